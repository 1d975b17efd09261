#!/usr/bin/env node
import { runCli } from './main';

process.exitCode = await runCli();
