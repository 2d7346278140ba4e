"""Adapters to other trainers: TRL's GRPOTrainer run with thinkact's data, rewards and environments.

`thinkact.integrations.trl.run_trl_grpo` is the entry point (`thinkact grpo --engine trl`); `trl_settings` maps
and checks the config without importing TRL. Nothing is imported here, so importing the package stays cheap.
"""
