"""Self-distilled reasoning (rejection-sampling fine-tuning, STaR): thinking for data that has none.

Real tool-use data (xLAM, API-Bank, a company's logs) holds the actions but not the reasoning that led to them.
Each round samples `samples` completions (thinking, then an action) per reference turn from the current policy,
through the turn view (`rollout/turns.py`: the episode loop with one step, no tools run, no user), parses them
(`parse.py`) and keeps those whose action is right, as the rewards score it (`rewards/components.py`):

- a call turn keeps a sample whose calls equal the reference's (`tool_exact`: names and normalised arguments,
  order-free);
- an answer turn keeps a sample that answers without a call and whose `answer` score reaches `answer_threshold`;
- in both, the sample must parse without problems, end before `max_new_tokens` and open with a non-empty
  `<think>` block: thinking is what the round is for.

With `hint`, each turn with nothing kept is sampled once more with the reference action stated in the system
prompt (STaR's rationalisation); what is kept then trains on the prompt *without* the hint. The round's training
data is the conversations with each kept turn's `reasoning_content` set to the sample's thinking and its action
the reference's (`action: sampled` takes the sample's own; for calls the two agree after normalisation). Turns
with nothing kept are left out of the loss (`"score": false`, the default `unkept: drop`) or trained with an empty
think block (`unkept: no_think`); either way they are counted. The data's own `reasoning_content`, if any, is
replaced. SFT with thinking then trains on that file, and the next round samples from the model it produced
(trained from `model` again each round with `from_base`, as STaR does, or from the previous round's model).

A run directory holds `config.yaml`, `distilled/round-K.jsonl` (the data round K trained on, chat format, with
what was kept per turn in `meta.self_distill`), `distilled/round-K.samples.jsonl` (every sample and its fate),
`self_distill.json` (per round: turns, samples, kept, kept by hint, why samples were rejected, generated tokens;
and the total), `metrics.jsonl` (one line per round), `rounds/round-K/` (round K's SFT run) and `model/` (the
last round's). Every file is written whole or not at all, and `--resume` continues at the first round stage that
is not complete. Left out: filtering thinking that mentions the hint; sampling with tools executed (each turn is
sampled from its reference history); several processes (the rounds run in one).

The package: `options.py` (the settings and their checks), `judging.py` (one sample against its reference, the
hint), `sampling.py` (a round's samples), `data.py` (the round's training data and summary), `run.py` (the rounds).
"""

from thinkact.train.self_distill.data import describe_round, distilled_conversations, summarise_round
from thinkact.train.self_distill.judging import REASONS, Verdict, hint_text, hinted_messages, judge_sample
from thinkact.train.self_distill.options import ACTIONS, UNKEPT, SelfDistillOptions, check_options
from thinkact.train.self_distill.run import SUMMARY, TrainRound, run_self_distill
from thinkact.train.self_distill.sampling import Generate, Kept, TurnOutcome, distill_turns, sampler

__all__ = [
    "ACTIONS",
    "REASONS",
    "SUMMARY",
    "UNKEPT",
    "Generate",
    "Kept",
    "SelfDistillOptions",
    "TrainRound",
    "TurnOutcome",
    "Verdict",
    "check_options",
    "describe_round",
    "distill_turns",
    "distilled_conversations",
    "hint_text",
    "hinted_messages",
    "judge_sample",
    "run_self_distill",
    "sampler",
    "summarise_round",
]
