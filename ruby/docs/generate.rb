# encoding: utf-8
# Writes ruby/docs/index.asciidoc (the Logstash plugin reference page) from intro.asciidoc and
# the option declarations in lib/logstash/outputs/kinesis.rb, with the comment above each as
# its description, so the page never drifts from the code.
# Run: ruby ruby/docs/generate.rb   (a spec fails when the page is stale)
module DocsPage
  SOURCE = File.expand_path("../lib/logstash/outputs/kinesis.rb", __dir__)
  TARGET = File.expand_path("index.asciidoc", __dir__)
  INTRO = File.expand_path("intro.asciidoc", __dir__)
  RULE = "|=======================================================================\n".freeze

  Option = Struct.new(:name, :validate, :default, :required, :doc)

  module_function

  # Reads `config :name, :validate => ..., :default => ...` lines and the comments just above.
  def options(source = File.read(SOURCE))
    comments = []
    found = source.each_line.each_with_object([]) do |line, list|
      if line =~ /\A\s*#\s?(.*)$/
        comments << Regexp.last_match(1).strip
      elsif line =~ /\A\s*config :(\w+), (.*)$/
        name, rest = Regexp.last_match(1), Regexp.last_match(2)
        validate = rest[/:validate => (\[[^\]]*\]|:\w+)/, 1]
        default = rest[/:default => (.*?)(?:, :\w+ =>|\s*$)/, 1]
        list << Option.new(name, validate, default, rest.include?(":required => true"), comments.join(" "))
        comments = []
      else
        comments = []
      end
    end
    found.sort_by(&:name)
  end

  def choices(option)
    return nil unless option.validate.start_with?("[")
    option.validate.scan(/"([^"]*)"/).flatten.map { |choice| "`#{choice}`" }.join(", ")
  end

  def type_name(option)
    choices(option) ? "string" : option.validate.delete(":")
  end

  def default_text(option)
    return "There is no default value for this setting." if option.default.nil?
    value = option.default.delete("_").strip
    # "256 * 1024 * 1024" -> 268435456
    value = value.split("*").map { |factor| Integer(factor.strip) }.reduce(:*).to_s if value =~ /\A[\d\s*]+\z/
    "Default value is `#{value}`"
  end

  def table(options)
    rows = options.map do |o|
      type = "<<#{type_name(o)},#{type_name(o)}>>#{choices(o) ? ", one of #{choices(o)}" : ''}"
      "| <<plugins-{type}s-{plugin}-#{o.name}>> |#{type}|#{o.required ? 'Yes' : 'No'}\n"
    end
    "[cols=\"<,<,<\",options=\"header\",]\n#{RULE}|Setting |Input type|Required\n#{rows.join}#{RULE}"
  end

  def details(option)
    lines = ["[id=\"plugins-{type}s-{plugin}-#{option.name}\"]", "===== `#{option.name}`", ""]
    lines << "  * This is a required setting." if option.required
    lines << (choices(option) ? "  * Value can be any of: #{choices(option)}" : "  * Value type is <<#{type_name(option)},#{type_name(option)}>>")
    lines << "  * #{default_text(option)}" << "" << option.doc << "" << ""
    lines.join("\n")
  end

  def render
    options = self.options
    File.read(INTRO) +
      "\n[id=\"plugins-{type}s-{plugin}-options\"]\n==== Kinesis Output Configuration Options\n\n" \
      "This plugin supports the following configuration options plus the " \
      "<<plugins-{type}s-{plugin}-common-options>> described later.\n\n" +
      table(options) + "\n&nbsp;\n\n" + options.map { |o| details(o) }.join +
      "[id=\"plugins-{type}s-{plugin}-common-options\"]\ninclude::{include_path}/{type}.asciidoc[]\n\n:default_codec!:\n"
  end
end

File.write(DocsPage::TARGET, DocsPage.render) if $PROGRAM_NAME == __FILE__
