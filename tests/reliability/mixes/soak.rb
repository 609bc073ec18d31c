# encoding: utf-8

# Mixed traffic for the soak: three streams, payloads from 100 bytes to 4 KiB, keys from a
# small and a large set, and now and then an event too large to send (dead-lettered).
# Config: stream_name "%{target}", event_partition_keys ["pk"].
module RunnerMix
  STREAMS = %w[soak-a soak-b soak-c].freeze
  SIZES = [100, 300, 700, 1500, 4000].freeze
  TOO_LARGE_EVERY = 20_000

  module_function

  def fields(seq, id, _padding)
    size = seq % TOO_LARGE_EVERY == 17 ? 1024 * 1024 + 10 : SIZES[seq % SIZES.size]
    key = seq.even? ? "hot-#{seq % 16}" : "k#{seq}"
    { "id" => id, "seq" => seq, "target" => STREAMS[seq % STREAMS.size], "pk" => key, "message" => "m" * size }
  end
end
