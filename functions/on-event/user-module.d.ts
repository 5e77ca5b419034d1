// The module the bundler aliases to the user's file: it exports a default function taking one stored event.
declare module 'campaign-inbox:on-event' {
  import type { EventRecord } from '../../lib/events/event-record';

  const onEvent: (event: EventRecord) => unknown;
  export default onEvent;
}
