# encoding: utf-8

class LogStash::Outputs::Kinesis
  # Turns the outcomes of a batch into metrics, and its failed records into dead letters.
  class Settlement
    def initialize(dead_letters, metrics)
      @dead_letters = dead_letters
      @metrics = metrics
    end

    # outcomes: [[delivered?, attempts, code, message], ...] in record order, or nil when the
    # batch never got them (then every record counts as failed).
    def settle(records, outcomes)
      delivered = 0
      bytes = 0
      retried = 0
      records.each_with_index do |record, i|
        ok, attempts, code, message = outcomes ? outcomes[i] : [false, 0, "NoOutcome", "the producer closed first"]
        attempts = attempts.to_i
        retried += 1 if attempts > 1
        if ok
          delivered += 1
          bytes += record.size
        else
          @dead_letters.fail(record.event, self.class.reason(record.stream, attempts, code, message),
                             :stream => record.stream, :partition_key => record.route.partition_key)
        end
      end
      @metrics.delivered(delivered, bytes)
      @metrics.retried(retried)
    end

    # The dead letter reason: the engine's error code and message, the stream and the attempts.
    def self.reason(stream, attempts, code, message)
      tries = attempts == 1 ? "1 attempt" : "#{attempts} attempts"
      # Not always Kinesis's refusal (a record can fail before it is sent): say what happened.
      "Not delivered to Kinesis: #{code || 'Unknown'}: #{message || 'no message'} " \
        "(stream #{stream.inspect}, #{tries})"
    end
  end
end
