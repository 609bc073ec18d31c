# encoding: utf-8
# Self-check of ProcessSampler: reading the producer's CPU time while threads start and end
# must not fail (a thread can end between the listing of /proc/self/task and the read).
require_relative "process_sampler"

stop = false
churn = Thread.new do
  Array.new(20) { Thread.new { nil } }.each(&:join) until stop
end
calls = 0
deadline = Process.clock_gettime(Process::CLOCK_MONOTONIC) + 5
begin
  while Process.clock_gettime(Process::CLOCK_MONOTONIC) < deadline
    ProcessSampler.engine_ticks
    calls += 1
  end
ensure
  stop = true
  churn.join
end
puts "process sampler: #{calls} reads while threads came and went"
