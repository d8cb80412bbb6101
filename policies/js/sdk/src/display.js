// Actions as text, exactly as `baton` prints them (`set dev to v1 by
// direct commit`), for tests and logs.

/** `by direct commit` or `by merge request [labels] (auto-merge)`. */
export function channelText(channel) {
  if (channel.tag === 'direct-commit') return 'by direct commit';
  const mr = channel.val;
  let text = 'by merge request';
  if (mr.labels.length) text += ` [${mr.labels.join(', ')}]`;
  if (mr.autoMerge) text += ' (auto-merge)';
  return text;
}

/** One action as `baton` prints it. */
export function actionText(action) {
  const v = action.val;
  switch (action.tag) {
    case 'set-version':
      return `set ${v.stage} to ${v.version}${v.digest != null ? ` (${v.digest})` : ''} ${channelText(v.channel)}`;
    case 'await-health':
      return `await health of ${v.stage} at ${v.version} (timeout ${BigInt(v.timeout) / 1000n}s)`;
    case 'hold':
      return `hold: ${v}`;
    case 'rollback':
      return `roll back ${v.stage} from ${v.rollbackOf} to ${v.toVersion}${v.toDigest != null ? ` (${v.toDigest})` : ''} ${channelText(v.channel)}`;
    case 'fail':
      return `fail: ${v}`;
    default:
      return JSON.stringify(action);
  }
}

/** Every action of a decision as text. */
export function texts(decision) {
  return decision.actions.map(actionText);
}
