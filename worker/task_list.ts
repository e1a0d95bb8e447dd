// Every task the worker runs, by identifier. One file per task in tasks/.
import type { TaskList } from 'graphile-worker';
import { sessions__sweep } from '../tasks/sessions__sweep.ts';
import { reservation__end } from '../tasks/reservation__end.ts';
import { reservation__remind } from '../tasks/reservation__remind.ts';
import { hold__expire } from '../tasks/hold__expire.ts';
import { holds__sweep } from '../tasks/holds__sweep.ts';
import { send_email } from '../tasks/send_email.ts';
import { reservation__charge } from '../tasks/reservation__charge.ts';

export const taskList: TaskList = {
  sessions__sweep,
  reservation__end,
  reservation__remind,
  hold__expire,
  holds__sweep,
  send_email,
  reservation__charge,
};
