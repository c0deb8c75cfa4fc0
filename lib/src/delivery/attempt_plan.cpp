#include "ocirelay/delivery/attempt_plan.hpp"

#include <algorithm>

namespace ocirelay::delivery {

AttemptPlan plan_attempt(const config::Retry& retry, const AttemptOutcome& outcome,
                         storage::Millis now, double unit_random) {
  AttemptPlan plan;
  plan.verdict = classify(outcome.status, retry);
  switch (plan.verdict) {
    case Verdict::delivered:
      plan.why = AttemptPlan::Why::success;
      return plan;
    case Verdict::dead:
      plan.why = AttemptPlan::Why::not_retryable;
      return plan;
    case Verdict::retry:
      break;
  }
  plan.destination_failure = is_destination_failure(outcome.status);
  Duration delay = backoff_delay(retry, outcome.attempt, unit_random);
  if (outcome.retry_after)
    delay = std::max(delay, std::min(*outcome.retry_after, retry.max_backoff));
  const Duration age(now + delay.count() - outcome.received_at);
  if (retry.max_attempts > 0 && outcome.attempt >= static_cast<int>(retry.max_attempts)) {
    plan.verdict = Verdict::dead;
    plan.why = AttemptPlan::Why::max_attempts;
  } else if (age > retry.max_age) {
    plan.verdict = Verdict::dead;
    plan.why = AttemptPlan::Why::max_age;
  } else {
    plan.why = AttemptPlan::Why::retryable;
    plan.delay = delay;
    plan.next_attempt_at = now + delay.count();
  }
  return plan;
}

}  // namespace ocirelay::delivery
