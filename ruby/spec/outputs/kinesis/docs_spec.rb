# encoding: utf-8
require_relative "../../../docs/generate"

# docs/index.asciidoc is the reference page Logstash's documentation takes from a plugin.
RSpec.describe "docs/index.asciidoc" do
  it "is current: regenerated from the option declarations, it does not change" do
    expect(File.read(DocsPage::TARGET)).to eq(DocsPage.render), "run: ruby ruby/docs/generate.rb"
  end

  it "documents every option the plugin declares, with its description" do
    common = LogStash::Outputs::Base.get_config.keys
    declared = LogStash::Outputs::Kinesis.get_config.keys.select { |name| name =~ /\A[a-z]\w*\z/ } - common
    documented = DocsPage.options
    expect(documented.map(&:name).sort).to eq(declared.sort)
    documented.each { |option| expect(option.doc).not_to be_empty, "#{option.name} has no description" }
  end

  it "takes each option's default from its declaration" do
    page = File.read(DocsPage::TARGET)
    expect(page).to include("===== `max_pending_bytes`\n\n  * Value type is <<bytes,bytes>>\n  * Default value is `268435456`")
    expect(page).to include("===== `region`\n\n  * This is a required setting.")
  end
end
