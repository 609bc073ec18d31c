# encoding: utf-8
require "java"

class LogStash::Outputs::Kinesis
  # One event on its way to Kinesis: the event, its route and its encoded payload.
  Record = Struct.new(:event, :route, :payload) do
    def stream
      route.stream
    end

    # Bytes Kinesis counts for this record: partition key plus data.
    def size
      route.partition_key.bytesize + payload.bytesize
    end
  end

  # Packs records into the few flat arrays the native producer takes in one call, so a batch
  # costs a handful of Java array conversions instead of one call per record.
  module BatchPacker
    # The arrays of NativeProducer#submit, plus the record count.
    Packed = Struct.new(:streams, :stream_index, :keys, :key_lengths, :explicit_hash_keys,
                        :payloads, :payload_lengths, :count)

    UTF_8 = Encoding::UTF_8

    module_function

    # Builds the Java arrays for `records` (an Array of Record).
    def pack(records)
      streams = []
      slots = {}
      stream_index = Array.new(records.size)
      keys = String.new(encoding: Encoding::BINARY)
      key_lengths = Array.new(records.size)
      hash_keys = nil
      payloads = String.new(encoding: Encoding::BINARY)
      payload_lengths = Array.new(records.size)

      records.each_with_index do |record, i|
        stream = record.stream
        slot = slots[stream]
        unless slot
          slot = slots[stream] = streams.size
          streams << stream
        end
        stream_index[i] = slot

        key = utf8(record.route.partition_key)
        keys << key.b
        key_lengths[i] = key.bytesize

        hash_key = record.route.explicit_hash_key
        if hash_key
          hash_keys ||= Array.new(records.size)
          hash_keys[i] = hash_key
        end

        payload = record.payload
        payloads << payload.b
        payload_lengths[i] = payload.bytesize
      end

      Packed.new(
        streams.to_java(:string),
        streams.size == 1 ? nil : stream_index.to_java(:int),
        keys.to_java_bytes,
        key_lengths.to_java(:int),
        hash_keys && hash_keys.to_java(:string),
        payloads.to_java_bytes,
        payload_lengths.to_java(:int),
        records.size
      )
    end

    # Partition keys must reach the engine as UTF-8; invalid bytes become U+FFFD.
    def utf8(text)
      if text.encoding == UTF_8
        text.valid_encoding? ? text : text.scrub
      else
        text.encode(UTF_8, :invalid => :replace, :undef => :replace)
      end
    end
  end
end
