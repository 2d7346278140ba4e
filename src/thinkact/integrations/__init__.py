"""Adapters to other trainers: TRL's GRPOTrainer run with thinkact's data, rewards and environments.

`thinkact.integrations.trl.run_trl_grpo` is the entry point (`thinkact grpo --engine trl`); `trl_settings` maps
and checks the config as plain data, `trl_data` builds the rows, `trl_rewards` the reward function and `trl_envs`
the environments. Nothing is imported here.
"""
