// A CronJob's spec.schedule and spec.timeZone, read as the API server and the CronJob controller
// read them (robfig/cron's ParseStandard: five fields or a macro such as @hourly; IANA zone names).
// The calendar arithmetic is croner's; this file holds only Kubernetes' rules around it. Pure.
import { Cron } from 'croner';

/**
 * The longest schedule taken. The API has no bound of its own but the object's size; five fields
 * of a real schedule are a few dozen characters, and a list is parsed into at most 60 slots a
 * field, so 1 KiB is far beyond any real one while the work on hostile text stays small.
 */
export const MAX_SCHEDULE_LENGTH = 1024;

/** What the field is wrong about; the caller names the field. */
export class ScheduleError extends Error {}

/** robfig/cron's descriptors, exactly as it spells them (case-sensitive). @every is refused below. */
const MACROS = ['@yearly', '@annually', '@monthly', '@weekly', '@daily', '@midnight', '@hourly'];

export interface Schedule {
  /** As written. */
  readonly text: string;
  /** The IANA zone it runs in; undefined: the node's local time, as the controller's. */
  readonly timeZone: string | undefined;
  /** The first scheduled time strictly after `ms` (ms since the epoch), if any within croner's search. */
  next(ms: number): number | undefined;
  /** The last scheduled time at or before `ms`, if any. */
  latest(ms: number): number | undefined;
}

// robfig/cron gives a day field written `*` (or `?`, or a list holding one, with no step above
// 1) a star bit, and only when neither day field has it is a day matched by day-of-month OR
// day-of-week. croner (like cron-parser) sees a star only in a bare `*`, so `*/1` would turn the
// OR on. Such a field matches every day anyway: written `*` it is the same set with robfig's bit.
function starDayField(field: string): string {
  return field.split(',').some((p) => /^[*?](\/0*1)?$/.test(p)) ? '*' : field;
}

// robfig/cron reads each number with Go's Atoi, which takes a leading `+`; croner refuses one,
// except at the start of the day-of-week field, where it means "and the day of month" (robfig's
// OR becomes AND). A sign at a number's start goes; any other `+` is in no number robfig reads.
function withoutSigns(field: string): string {
  const f = field.replace(/(^|[,\-/])\+(?=\d)/g, '$1');
  if (f.includes('+')) throw new ScheduleError(`failed to parse int from ${JSON.stringify(field)}`);
  return f;
}

/** The pattern handed to croner, or a ScheduleError in robfig/cron's and the API server's words. */
export function normalizeSchedule(text: string): string {
  if (text.length > MAX_SCHEDULE_LENGTH) throw new ScheduleError(`must be at most ${MAX_SCHEDULE_LENGTH} characters, got ${text.length}`);
  // The API server refuses a zone inside the schedule on a new CronJob.
  if (text.includes('TZ')) throw new ScheduleError('cannot use TZ or CRON_TZ in schedule, use timeZone field instead');
  if (text === '') throw new ScheduleError('required');
  // robfig/cron takes a descriptor only at the very start and exactly as written (no trimming).
  if (text.startsWith('@')) {
    if (text.startsWith('@every ')) throw new ScheduleError(`${JSON.stringify(text)}: @every intervals are not supported by crib run; write it as five fields`);
    if (!MACROS.includes(text)) throw new ScheduleError(`unrecognized descriptor ${JSON.stringify(text)} (one of ${MACROS.join(', ')})`);
    return text;
  }
  // strings.Fields: split on runs of white space, none at either end.
  const fields = text.match(/\S+/g) ?? [];
  if (fields.length !== 5)
    throw new ScheduleError(`expected exactly 5 fields (minute hour day-of-month month day-of-week), found ${fields.length}: ${JSON.stringify(text)}`);
  const [minute, hour, dom, month, dow] = fields.map(withoutSigns) as [string, string, string, string, string];
  return [minute, hour, starDayField(dom), month, starDayField(dow)].join(' ');
}

/** The API server's rules for spec.timeZone (validateTimeZone), then whether this node knows the zone. */
export function checkTimeZone(tz: string): void {
  if (tz === '') throw new ScheduleError('must be a non-empty string when set');
  for (const part of tz.split('/')) {
    if (part === '.' || part === '..' || part.startsWith('-') || !/^[A-Za-z.\-_0-9+]{1,14}$/.test(part)) throw new ScheduleError(`unknown time zone ${tz}`);
  }
  if (tz.toLowerCase() === 'local') throw new ScheduleError('timeZone must be an explicit time zone as defined in https://www.iana.org/time-zones');
  let resolved: string;
  try {
    resolved = new Intl.DateTimeFormat('en-US', { timeZone: tz }).resolvedOptions().timeZone;
  } catch {
    throw new ScheduleError(`unknown time zone ${tz}`);
  }
  // ICU finds zones whatever their case; Go's LoadLocation reads a file named exactly so.
  if (resolved !== tz && resolved.toLowerCase() === tz.toLowerCase()) throw new ScheduleError(`unknown time zone ${tz} (did you mean ${resolved}?)`);
}

/** A schedule in a zone (undefined: the node's local time). Throws a ScheduleError. */
export function parseSchedule(text: string, timeZone?: string): Schedule {
  const pattern = normalizeSchedule(text);
  if (timeZone !== undefined) checkTimeZone(timeZone);
  let cron: Cron;
  try {
    // No function given: croner schedules nothing, it only reads the pattern. No zone: local time.
    cron = new Cron(pattern, { mode: '5-part', timezone: timeZone });
  } catch (err) {
    throw new ScheduleError(`${JSON.stringify(text)}: ${(err as Error).message.replace('CronPattern: ', '')}`);
  }
  return {
    text,
    timeZone,
    next: (ms) => cron.nextRun(new Date(ms))?.getTime() ?? undefined,
    // previousRuns looks strictly before its date; the schedule's times are whole minutes.
    latest: (ms) => cron.previousRuns(1, new Date(ms + 1))[0]?.getTime(),
  };
}
