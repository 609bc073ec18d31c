# encoding: utf-8
require "json"

# Events for the bad-input scenario: mostly good ones, with bad ones of every kind in between
# (so they share batches). The kind is in the event's "case" field; the payload (codec plain,
# format "%{body}") is JSON with "id" and "case", except where the case says otherwise.
# Config: stream_name "%{target}", event_partition_keys ["pk"], explicit_hash_key "%{ehk}".
module RunnerMix
  # Cases by seq % CYCLE; every other position is a good event.
  CYCLE = 50
  CASES = {
    1 => "empty_payload",
    3 => "key_missing",
    5 => "key_empty",
    7 => "key_300_chars",
    9 => "key_integer",
    11 => "key_float",
    13 => "key_boolean",
    15 => "key_hash",
    17 => "key_array",
    19 => "key_invalid_utf8",
    21 => "hash_key_too_big",
    23 => "hash_key_not_a_number",
    25 => "stream_unresolved",
    27 => "stream_missing",
    29 => "stream_denied",
  }.freeze
  # Oversized events are few: each is over 1 MiB.
  TOO_LARGE_EVERY = 500
  TOO_LARGE_BYTES = 1024 * 1024 + 100

  module_function

  def kind(seq)
    return "too_large" if seq % TOO_LARGE_EVERY == 33
    CASES.fetch(seq % CYCLE, "good")
  end

  def fields(seq, id, _padding)
    kind = kind(seq)
    body = { "id" => id, "case" => kind }
    fields = { "id" => id, "seq" => seq, "case" => kind, "pk" => "k#{seq}", "target" => "bad-input" }
    case kind
    when "too_large" then body["pad"] = "x" * TOO_LARGE_BYTES
    when "empty_payload"
      fields["body"] = ""
      fields["pk"] = id # the key "-<id>" is all that identifies an empty record
    when "key_missing" then fields.delete("pk")
    when "key_empty" then fields["pk"] = ""
    when "key_300_chars" then fields["pk"] = "k" * 300
    when "key_integer" then fields["pk"] = seq
    when "key_float" then fields["pk"] = seq + 0.5
    when "key_boolean" then fields["pk"] = true
    when "key_hash" then fields["pk"] = { "n" => seq }
    when "key_array" then fields["pk"] = [seq, "x"]
    when "key_invalid_utf8" then fields["pk"] = "k\xFF\xFE#{seq}".dup.force_encoding(Encoding::UTF_8)
    when "hash_key_too_big" then fields["ehk"] = (2**128).to_s
    when "hash_key_not_a_number" then fields["ehk"] = "12ab"
    when "stream_unresolved" then fields.delete("target")
    when "stream_missing" then fields["target"] = "no-such-stream"
    when "stream_denied" then fields["target"] = "denied-stream"
    end
    fields["body"] = JSON.generate(body) unless fields.key?("body")
    fields
  end
end
