// Every task the worker runs, by identifier. One file per task in tasks/.
import type { TaskList } from 'graphile-worker';
import { sessions__sweep } from '../tasks/sessions__sweep.ts';
import { due_work__sweep } from '../tasks/due_work__sweep.ts';
import { send_email } from '../tasks/send_email.ts';
import { reservation__charge } from '../tasks/reservation__charge.ts';
import { spots__sync } from '../tasks/spots__sync.ts';

export const taskList: TaskList = {
  sessions__sweep,
  due_work__sweep,
  send_email,
  reservation__charge,
  spots__sync,
};
