# encoding: utf-8
require "json"

# An in-Ruby stand-in for LogStash::Outputs::Kinesis::Producer (the adapter of the native
# bridge), with the engine's observable rules: unknown options are refused, submit waits while
# max_pending_records are held (a batch is admitted when nothing is pending), invalid records
# fail alone, every record gets exactly one outcome, close fails what is still pending with
# ProducerClosed. Specs decide outcomes with `respond_with` and can hold records with `hold!`.
class FakeProducer
  Failure = LogStash::Outputs::Kinesis::Producer::Failure
  InvalidConfig = LogStash::Outputs::Kinesis::Producer::InvalidConfig

  # The engine's option names, in the order of `options!` in crates/kinesis-producer/src/config.rs
  # (engine_config_spec checks this list against that file).
  ENGINE_OPTIONS = %w[
    aggregation_enabled aggregation_max_count aggregation_max_size cloudwatch_endpoint cloudwatch_port
    collection_max_count collection_max_size connect_timeout credentials_refresh_delay enable_core_dumps
    fail_if_throttled kinesis_endpoint kinesis_port log_level max_connections metrics_granularity
    metrics_level metrics_namespace metrics_upload_delay min_connections native_executable rate_limit
    record_max_buffered_time record_ttl request_timeout temp_directory verify_certificate region
    max_user_record_size max_pending_records max_pending_bytes access_key secret_key profile role_arn
    role_session_name external_id sts_endpoint sts_proxy_host sts_proxy_port metrics_access_key
    metrics_secret_key metrics_role_arn proxy ca_bundle
  ].freeze
  MAX_KEY_CHARS = 256
  MAX_HASH_KEY = 2**128 - 1

  # One record as submitted.
  Record = Struct.new(:stream, :partition_key, :explicit_hash_key, :payload)
  # One submitted batch; `room[i]` is true while record i counts as pending.
  Batch = Struct.new(:id, :records, :outcomes, :room, :submitted_at, :released, :counted)

  @created = []
  @setup = nil

  class << self
    attr_reader :created

    # Called by the stubbed Producer.new.
    def create(config_json)
      producer = new(config_json)
      @setup.call(producer) if @setup
      @created << producer
      producer
    end

    # Runs `block` on the next producers created (e.g. to set shard counts before register).
    def on_create(&block)
      @setup = block
    end

    def reset_created
      @created = []
      @setup = nil
    end

    # Reads packed arrays back into records, with the bridge's consistency checks.
    def unpack(packed)
      count = packed.key_lengths.length
      streams = packed.streams.to_a
      index = packed.stream_index && packed.stream_index.to_a
      raise ArgumentError, "streamIndex may only be null with exactly one stream" if index.nil? && streams.size != 1
      lengths = [packed.payload_lengths.length, index && index.length, packed.explicit_hash_keys && packed.explicit_hash_keys.length]
      raise ArgumentError, "array lengths differ" unless lengths.compact.all? { |n| n == count } && packed.count == count
      keys = String.from_java_bytes(packed.keys)
      payloads = String.from_java_bytes(packed.payloads)
      key_offset = 0
      payload_offset = 0
      Array.new(count) do |i|
        key = keys.byteslice(key_offset, packed.key_lengths[i]).force_encoding(Encoding::UTF_8)
        payload = payloads.byteslice(payload_offset, packed.payload_lengths[i])
        if key.bytesize != packed.key_lengths[i] || payload.bytesize != packed.payload_lengths[i]
          raise ArgumentError, "lengths run past the arrays"
        end
        key_offset += packed.key_lengths[i]
        payload_offset += packed.payload_lengths[i]
        hash_key = packed.explicit_hash_keys && packed.explicit_hash_keys[i]
        Record.new(streams[index ? index[i] : 0], key, hash_key, payload)
      end
    end
  end

  attr_reader :config, :flushes, :close_calls, :close_timeouts
  attr_accessor :shard_counts

  def initialize(config_json)
    @config = JSON.parse(config_json)
    unknown = @config.keys - ENGINE_OPTIONS
    raise InvalidConfig, "unknown option #{unknown.first.inspect}" unless unknown.empty?
    @max_pending = @config.fetch("max_pending_records", 100_000)
    @max_record_size = @config.fetch("max_user_record_size", 1024 * 1024)
    @lock = Mutex.new
    @changed = ConditionVariable.new
    @batches = {}
    @all_batches = []
    @next_id = 0
    @pending = 0
    @pending_bytes = 0
    @holding = false
    @responder = proc { [true, 1, nil, nil] }
    @flushes = []
    @close_calls = 0
    @close_timeouts = []
    @closed = false
    @delivered = 0
    @completed_batches = 0
    @shard_counts = {}
  end

  # Outcome of each record from now on: the block gets a Record and returns
  # [delivered?, attempts, code, message].
  def respond_with(&block)
    @lock.synchronize { @responder = block }
  end

  # Records submitted from now on stay without an outcome until complete_held! or close.
  def hold!
    @lock.synchronize { @holding = true }
  end

  # Gives every held record its outcome and stops holding; with `count`, only the oldest
  # `count` held records get one, and holding goes on.
  def complete_held!(count = nil)
    @lock.synchronize do
      @holding = false if count.nil?
      left = count
      # Released batches too: the engine keeps sending records nobody waits for.
      @all_batches.each do |batch|
        batch.records.each_index do |i|
          next if batch.outcomes[i]
          break if left && left <= 0
          finish(batch, i, @responder.call(batch.records[i]))
          left -= 1 if left
        end
      end
      @changed.broadcast
    end
  end

  # Every record submitted so far, in submit order.
  def records
    @lock.synchronize { @all_batches.flat_map(&:records) }
  end

  def batch_count
    @lock.synchronize { @all_batches.size }
  end

  def pending_count
    @lock.synchronize { @pending }
  end

  def released_all?
    @lock.synchronize { @batches.empty? }
  end

  # --- the adapter interface ---

  def submit(packed, timeout_ms)
    records = self.class.unpack(packed)
    deadline = now_ms + timeout_ms
    @lock.synchronize do
      check_open
      until @pending.zero? || @pending + records.size <= @max_pending
        left = deadline - now_ms
        return nil if left <= 0
        @changed.wait(@lock, left / 1000.0)
        check_open
      end
      @next_id += 1
      batch = Batch.new(@next_id, records, Array.new(records.size), Array.new(records.size, false), now_ms, false, false)
      @batches[batch.id] = batch
      @all_batches << batch
      records.each_with_index do |record, i|
        problem = invalid(record)
        if problem
          finish(batch, i, [false, 0, problem[0], problem[1]])
        else
          batch.room[i] = true
          @pending += 1
          @pending_bytes += record_size(record)
        end
      end
      unless @holding
        records.each_index { |i| finish(batch, i, @responder.call(records[i])) unless batch.outcomes[i] }
      end
      @changed.broadcast
      batch.id
    end
  end

  def await(id, timeout_ms)
    deadline = now_ms + timeout_ms
    @lock.synchronize do
      batch = known(id)
      until complete?(batch)
        left = deadline - now_ms
        return false if left <= 0
        @changed.wait(@lock, left / 1000.0)
      end
      true
    end
  end

  def outcomes(id)
    @lock.synchronize do
      batch = known(id)
      complete?(batch) ? batch.outcomes.map(&:dup) : nil
    end
  end

  def release(id)
    @lock.synchronize do
      known(id).released = true
      @batches.delete(id)
    end
    nil
  end

  def outstanding
    @lock.synchronize do
      check_open
      oldest = @all_batches.reject { |batch| complete?(batch) }.map(&:submitted_at).min
      [@pending, @pending_bytes, oldest && now_ms - oldest]
    end
  end

  def flush(stream = nil)
    @lock.synchronize do
      check_open
      @flushes << stream
    end
    nil
  end

  def metrics
    @lock.synchronize do
      check_open
      { "KinesisRecordsPut" => { "sum" => @delivered, "count" => @delivered },
        "RequestTime" => { "sum" => 10 * @completed_batches, "count" => @completed_batches } }
    end
  end

  # Like the adapter: raises Failure when the service cannot say.
  def shard_count(stream)
    @shard_counts.fetch(stream) do
      raise LogStash::Outputs::Kinesis::Producer::Failure, "could not list the shards of #{stream}"
    end
  end

  # Like the adapter: the first call closes, later ones do nothing and return nil.
  def close(timeout_ms)
    @lock.synchronize do
      @close_calls += 1
      @close_timeouts << timeout_ms
      return nil if @closed
      @closed = true
      failed = 0
      @all_batches.each do |batch|
        batch.outcomes.each_index do |i|
          next if batch.outcomes[i]
          finish(batch, i, [false, 1, "ProducerClosed", "the producer closed before the record was sent"])
          failed += 1
        end
      end
      @changed.broadcast
      failed
    end
  end

  private

  def now_ms
    Process.clock_gettime(Process::CLOCK_MONOTONIC, :millisecond)
  end

  def check_open
    raise Failure, "IllegalStateException: producer is closed" if @closed
  end

  def known(id)
    batch = @batches[id]
    raise Failure, "IllegalStateException: unknown or released batch #{id}" unless batch
    batch
  end

  def complete?(batch)
    batch.outcomes.none?(&:nil?)
  end

  # Sets one record's outcome and gives back its room.
  def finish(batch, i, outcome)
    batch.outcomes[i] = outcome
    @delivered += 1 if outcome[0]
    if batch.room[i]
      batch.room[i] = false
      @pending -= 1
      @pending_bytes -= record_size(batch.records[i])
    end
    return unless complete?(batch) && !batch.counted
    batch.counted = true
    @completed_batches += 1
  end

  def record_size(record)
    record.partition_key.bytesize + record.payload.bytesize
  end

  # The engine's per-record checks: [code, message] or nil.
  def invalid(record)
    chars = record.partition_key.length
    return ["InvalidStreamName", "stream name is empty"] if record.stream.empty?
    unless (1..MAX_KEY_CHARS).cover?(chars)
      return ["InvalidPartitionKey", "partition key has #{chars} characters; it must have 1 to #{MAX_KEY_CHARS}"]
    end
    hash_key = record.explicit_hash_key
    if hash_key && !(hash_key =~ /\A\d{1,39}\z/ && hash_key.to_i <= MAX_HASH_KEY)
      return ["InvalidExplicitHashKey", "explicit hash key #{hash_key[0, 64].inspect} is not a decimal number between 0 and 2^128-1"]
    end
    size = record_size(record)
    if size > @max_record_size
      return ["RecordTooLarge", "record is #{size} bytes (data + partition key); the limit (max_user_record_size) is #{@max_record_size}"]
    end
    nil
  end
end
