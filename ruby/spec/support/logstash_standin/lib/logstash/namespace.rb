# encoding: utf-8
# Namespaces and errors of logstash-core.
module LogStash
  # Base of Logstash's own errors.
  class Error < StandardError; end
  # Raised by a plugin's `new` (or `register`) when its configuration is wrong.
  class ConfigurationError < Error; end

  module Outputs; end
  module Codecs; end
  module Util; end
end
