// The sandbox launcher: a small long-lived process, started once per SandboxPool, that
// spawns the sandbox children and keeps the warm ones (a ChildSet: fresh processes in
// process mode, long-lived reusable ones in realm mode; see process.ts). It exists because fork() cost grows
// with the parent's memory: from a 2 GB training process one spawn costs ~50 ms of CPU and
// blocks the event loop for ~0.4 s (measured here), from this process a few ms.
// The pool starts it inside a fresh network namespace (when unshare works), so its children
// inherit that namespace instead of each creating one (~8 ms of CPU per child saved); the
// children of one pool share it: no interface is up in it, so there is still no IP route.
// Protocol (Node IPC, JSON): parent → {type:'init', limits, warm, inNetns, isolation,
// recycleAfter, exposeHostForTests}, {type:'run', id, job},
// {type:'close'}; launcher → {type:'result', id, raw}. On close or when the parent goes
// away, every child is killed and the launcher exits.
// Not here: containment (process.ts) and scoring (code.ts); it is trusted code.

import { ChildSet, validateLimits, type Isolation, type Job, type RawRun, type SandboxLimits } from './process.ts';

type Message =
  | { type: 'init'; limits: SandboxLimits; warm: number; inNetns: boolean; isolation: Isolation; recycleAfter: number; exposeHostForTests: boolean }
  | { type: 'run'; id: number; job: Job }
  | { type: 'close' };

let children: ChildSet | undefined;

// Waits for the children to exit first, so that their CPU time is reaped into this
// process's (bench/sandbox.ts counts it).
let shuttingDown = false;
function shutdown(): void {
  if (shuttingDown) return;
  shuttingDown = true;
  void (children?.close() ?? Promise.resolve()).then(() => process.exit(0));
}

async function run(id: number, job: Job): Promise<void> {
  if (!children || shuttingDown) return;
  let raw: RawRun;
  try {
    raw = await children.run(job);
  } catch (e) {
    raw = { outcomes: job.inputs.map(() => ({ kind: 'error', verdict: 'error', message: `launcher: ${e instanceof Error ? e.message : String(e)}`, ran: false })), stdout: '', stderr: '', ms: 0 };
  }
  process.send?.({ type: 'result', id, raw });
}

process.on('message', (m: Message) => {
  if (m.type === 'init') {
    void children?.close();
    children = new ChildSet(validateLimits(m.limits), { warm: m.warm, inNetns: m.inNetns, isolation: m.isolation, recycleAfter: m.recycleAfter, exposeHostForTests: m.exposeHostForTests });
  } else if (m.type === 'run') void run(m.id, m.job);
  else if (m.type === 'close') shutdown();
});
process.on('disconnect', () => shutdown());
