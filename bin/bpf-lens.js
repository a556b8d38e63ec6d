#!/usr/bin/env node
// The bpf-lens command: the webpack bundle when built, else the compiled sources (tests).
const fs = require('fs');
const path = require('path');
const bundle = path.join(__dirname, '..', 'dist', 'cli.js');
require(fs.existsSync(bundle) ? bundle : path.join(__dirname, '..', 'out', 'server', 'src', 'cli', 'main.js'));
