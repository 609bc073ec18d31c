# encoding: utf-8
require "logstash/namespace"

module LogStash
  # The pipeline a plugin runs in, as far as plugins see it.
  class PipelineStub
    def initialize
      @shutdown_requested = false
    end

    def shutdown_requested?
      @shutdown_requested
    end

    def request_shutdown!
      @shutdown_requested = true
    end
  end

  # The dead letter queue itself: keeps what plugins write.
  class DeadLetterQueue
    # One entry: the event, who wrote it and why.
    Entry = Struct.new(:event, :plugin_type, :plugin_id, :reason)

    def initialize
      @entries = []
      @lock = Mutex.new
    end

    def write_entry(event, plugin_type, plugin_id, reason)
      @lock.synchronize { @entries << Entry.new(event, plugin_type, plugin_id, reason) }
    end

    def entries
      @lock.synchronize { @entries.dup }
    end
  end

  # The writer a plugin gets from its execution context. With the DLQ off, `inner_writer` is nil
  # and `write` does nothing.
  class DeadLetterQueueWriter
    attr_reader :inner_writer

    def initialize(inner_writer, plugin_type = "output", plugin_id = "kinesis")
      @inner_writer = inner_writer
      @plugin_type = plugin_type
      @plugin_id = plugin_id
    end

    def write(event, reason)
      raise TypeError, "dead letter reason must be a String, got #{reason.class}" unless reason.is_a?(String)
      return unless @inner_writer
      @inner_writer.write_entry(event.to_hash_with_metadata, @plugin_type, @plugin_id, reason)
    end
  end

  # What `execution_context` gives a plugin.
  class ExecutionContext
    attr_reader :pipeline, :dlq_writer

    def initialize(dlq_writer: DeadLetterQueueWriter.new(nil), pipeline: PipelineStub.new)
      @dlq_writer = dlq_writer
      @pipeline = pipeline
    end

    def pipeline_id
      "main"
    end
  end
end
