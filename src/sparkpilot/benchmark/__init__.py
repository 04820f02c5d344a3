"""sparkpilot bench: tokens per second you can trust.

One module per concept:
  knowledge   the bounds and public results of knowledge/bench.yaml
  bounds      physical ceilings: decode (memory bandwidth) and prefill (compute) per run row
  client      the kept benchmark client (`vllm bench serve`): argv per profile, run, result file
  results     parse the client's saved result JSON and its printed summary into rows
  stats       repeat until the confidence interval is tight
  serverside  the server's own /metrics counters before and after, for the cross-check
  envelope    what the run ran on: image, versions, launch flags, clocks, power, temperatures, cache
  expect      how far a row is from the bound and from public Spark results, and why
  store       runs kept per host and deployment
  report      PNG plots and one HTML page
  run         the whole bench: profiles x repeats, checks, envelope, saved run
"""
