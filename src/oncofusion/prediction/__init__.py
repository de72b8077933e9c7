"""Answers for new samples, the same wherever they are asked for: the BentoML services and
`oncofusion predict` both build them here."""
