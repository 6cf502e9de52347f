// The key lifecycle timeline: a neutral model, built from a producer's key status or by a caller such as
// the rotation demo, drawn as an SVG or as lines for a terminal.
export { shortKid, timelineFromKeys } from './timeline/key-timeline.ts'
export type { KeyTimeline, TimelineFetch, TimelineLane, TimelineMarker, TimelineSegment } from './timeline/key-timeline.ts'
export { STATE_STYLE } from './timeline/state-style.ts'
export { terminalTimeline } from './timeline/terminal-timeline.ts'
export type { TerminalTimelineOptions } from './timeline/terminal-timeline.ts'
export { escapeXml, timelineSvg } from './timeline/timeline-svg.ts'
