"""The district office's oversight: reproducible spot-check sampling, on-site visits,
and the evidence checks on summaries' photos."""
