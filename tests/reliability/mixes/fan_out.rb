# encoding: utf-8

# Events spread over many streams: event `seq` goes to stream "fan-<seq % STREAMS>"
# (config: stream_name "%{target}"). STREAMS comes from the environment.
module RunnerMix
  STREAMS = Integer(ENV.fetch("FAN_OUT_STREAMS", "10000"))

  module_function

  def fields(seq, id, padding)
    { "id" => id, "seq" => seq, "target" => format("fan-%05d", seq % STREAMS), "message" => padding }
  end
end
