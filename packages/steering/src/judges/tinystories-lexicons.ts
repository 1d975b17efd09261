/**
 * Word lists of the TOY lexicon judge, for the tinystories traits (datasets/traits/tinystories).
 * Each list holds every inflected form it matches (no stemming), lower case. They were written by hand
 * for the small vocabulary of children's stories: a word counts toward a trait when, in such a story,
 * it almost always signals that trait. Words that are common in every story regardless of mood
 * ("play", "good", "friend" for happiness) are left out on purpose, so unsteered stories score low.
 */
export interface TraitLexicon {
  /** Words that show the trait. */
  positive: readonly string[];
  /** Words that show its opposite. */
  negative: readonly string[];
}

const words = (text: string): readonly string[] => text.trim().split(/\s+/);

export const tinyStoriesLexicons = {
  happiness: {
    positive: words(`
      happy happier happiest happily happiness glad gladly joy joyful joyfully joyous cheerful cheerfully
      cheer cheered cheering smile smiles smiled smiling grin grins grinned grinning laugh laughs laughed
      laughing laughter giggle giggles giggled giggling fun funny excited exciting excitement delighted
      delight thrilled merry jolly love loves loved lovely loving wonderful amazing awesome beautiful
      yay hooray hurray proud enjoy enjoys enjoyed enjoying celebrate celebrated celebrating party
      sunny sparkle sparkled sparkling dance danced dancing sang singing peaceful content best great`),
    negative: words(`
      sad sadly sadness sadder unhappy cry cries cried crying tears sob sobbed sobbing upset angry
      angrily mad scared afraid frightened fear worried worry lonely miserable gloomy frown frowned
      frowning hurt pain grumpy sulk sulked disappointed scream screamed screaming terrible awful
      bored boring`),
  },
  kindness: {
    positive: words(`
      kind kindly kindness kinder help helps helped helping helpful share shares shared sharing give
      gives gave giving gift gifts thank thanks thanked thankful please gentle gently care cares cared
      caring hug hugs hugged hugging comfort comforted generous polite politely friendly friendship
      nice sweet sorry forgive forgave together welcome welcomed protect protected save saved rescue
      rescued listen listened patient support`),
    negative: words(`
      mean meaner rude rudely selfish greedy push pushed pushing hit hits hitting kick kicked grab
      grabbed snatch snatched steal stole stolen tease teased teasing bully bullied yell yelled yelling
      shout shouted shouting ignore ignored refuse refused cruel nasty`),
  },
} satisfies Record<string, TraitLexicon>;

/**
 * Common words of children's stories, for the lexicon judge's gibberish check: text whose words are
 * mostly outside this list (plus the lexicons) is treated as broken. Function words, the frequent nouns,
 * verbs and adjectives of TinyStories, and its usual character names.
 */
export const storyVocabulary: readonly string[] = words(`
  a an the and or but so because if then than that this these those there here when where what who why
  how which while until after before again also very too just not no yes all some any many much more
  most every each other another one two three four five first last next only own same such few
  i me my mine you your yours he him his she her hers it its we us our they them their itself himself
  herself themselves myself yourself
  is are was were be been being am do does did done doing have has had having can could will would
  shall should may might must let lets go goes went gone going come comes came coming get gets got
  getting make makes made making see sees saw seen seeing look looks looked looking say says said
  saying tell tells told know knows knew think thinks thought want wants wanted like likes liked
  take takes took find finds found found put puts run runs ran running walk walks walked walking
  jump jumps jumped jumping play plays played playing eat eats ate eating drink drank sleep slept
  sleeping sit sat sitting stand stood open opened close closed fly flew flying swim swam swimming
  climb climbed climbing fall fell falling try tried trying need needed keep kept feel feels felt
  feeling hear heard hold held bring brought build built draw drew paint painted read write wrote
  call called ask asked answer answered shout start started stop stopped wait waited watch watched
  turn turned pick picked throw threw catch caught roll rolled pull pulled carry carried show showed
  learn learned remember remembered decide decided live lived lives grow grew become became begin
  began leave left hide hid seek met meet mean meant understand understood wish wished hope hoped
  use used move moved reach reached touch touched clean cleaned cook cooked bake baked fix fixed
  break broke lose lost win won fit belong belonged stay stayed rest chase chased bark barked
  once upon time day days night morning evening today tomorrow yesterday now soon later always never
  sometimes away back down up out in on off over under into onto through around near far inside
  outside behind between from with without about for of at by to along across
  little big small tiny huge large tall long short old new young good bad nice pretty red blue green
  yellow pink purple orange black white brown colorful fast slow hot cold warm wet dry soft hard loud
  quiet dark light high low full empty special favorite shiny strong weak heavy funny silly brave
  smart clever careful busy ready sure real right wrong safe happy sad hungry thirsty sleepy tired
  girl boy mom mommy dad daddy mother father mama papa friend friends family baby brother sister
  grandma grandpa teacher king queen prince princess man woman people kid kids child children
  dog dogs cat cats bird birds fish bunny rabbit bear duck ducks frog frogs bug bugs bee bees lion
  mouse owl puppy kitten horse cow pig sheep fox squirrel butterfly dragon monster elephant monkey
  park tree trees flower flowers garden grass sun sky cloud clouds rain snow wind water sea ocean
  beach sand river lake pond hill forest wood woods rock rocks stone house home room bed door window
  kitchen table chair box toy toys ball balloon car truck train boat plane doll book books picture
  school shop store town city road street world place way thing things something nothing everything
  anything someone everyone food cake cookie cookies apple apples candy ice cream milk juice bread
  soup pie lunch dinner breakfast hat shoe shoes shirt dress coat bag cup plate bowl spoon key
  treasure map star stars moon game games song songs story name names idea surprise lesson
  hand hands head eyes eye face feet foot arm arms nose mouth ear ears hair tail wings leg legs
  Lily Tom Tim Ben Sue Sam Max Mia Anna Amy Jack Lucy Sara Sarah Spot Timmy Billy Bob Jane Mary Kate
  Zoe Mark Joe Jim Molly Daisy Rosie Emma Mike Fluffy Jill Jen Jenny Lucy Polly Sally Susie Tommy
  oh wow ok okay hello hi bye goodbye please thank thanks sorry yes yeah no
  don't didn't can't won't it's i'm let's that's wasn't isn't couldn't wouldn't doesn't aren't we're
  you're they're i'll you'll he's she's there's what's
`);
