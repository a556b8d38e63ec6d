// A trace pipe line whose task the kernel printed as `<...>` (its name fell out of the
// kernel's saved_cmdlines cache on a busy machine) is read with the task's name from /proc
// while the task lives; a task that is gone keeps `<...>`. The pipe here is a scripted
// stand-in for the kernel's read (the kernel decides when it prints `<...>`, a test cannot);
// the names come from this machine's real /proc.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { test } from 'node:test';
import { taskComm } from '../../server/src/kernel/trace-pipe';
import { parsePrintkLine, TracePipeReader, type TracePipeKernel } from '../../server/src/observe/trace-pipe';

function scripted(text: string): TracePipeKernel {
  let chunks = ['', text];
  return {
    tracePipeOpen: () => 99,
    readNonBlocking: (_fd, buf) => {
      const next = chunks.shift() ?? '';
      return Buffer.from(next).copy(buf);
    },
    closeFd: () => {
      chunks = [];
    },
    taskComm,
  };
}

test('<...> becomes the live task’s name from /proc; a gone task keeps <...>; a named task is left as printed', () => {
  const gone = spawnSync('/bin/true').pid;
  const lines = [
    `           <...>-${process.pid}    [001] ..... 123.456789: bpf_trace_printk: mine`,
    `           <...>-${gone}    [000] ..... 123.456790: bpf_trace_printk: gone`,
    `            bash-${process.pid}    [001] ..... 123.456791: bpf_trace_printk: named`,
  ];
  const k = scripted(`${lines.join('\n')}\n`);
  const reader = new TracePipeReader(k);
  const got: string[] = [];
  reader.poll((l) => got.push(l));
  const parsed = got.map((l) => parsePrintkLine(l)!);
  assert.deepEqual(
    parsed.map((p) => [p.task, p.pid, p.text]),
    [
      [taskComm(process.pid), process.pid, 'mine'],
      ['<...>', gone, 'gone'],
      ['bash', process.pid, 'named'],
    ],
  );
  assert.equal(taskComm(process.pid), 'node');
  assert.equal(parsed[0].cpu, 1);
});
