using System.Text.Json;
using System.Text.RegularExpressions;
using Grid.Policy.Qwen;

namespace Grid.Policy.Tests.Qwen;

public sealed partial class QwenChatTemplateTests
{
    public static TheoryData<string> Checkpoints => new(QwenTextReference.Checkpoints);

    [Theory]
    [MemberData(nameof(Checkpoints))]
    public void The_rendered_prompt_equals_the_reference_prompt_text(string checkpoint)
    {
        var template = QwenChatTemplate.FromCheckpoint(QwenTestData.PathOf(checkpoint));

        Assert.All(QwenTextReference.CasesOf(checkpoint), c =>
            Assert.Equal(c.PromptText, template.Render(c.Image is not null, c.Question)));
    }

    [Fact]
    public void One_image_and_a_question_render_as_jinja_renders_the_qwen_template()
    {
        var template = QwenChatTemplate.Parse(HubTemplate(), "test");

        Assert.Equal(
            "<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n<|im_start|>user\n" +
            "<|vision_start|><|image_pad|><|vision_end|>QUESTION<|im_end|>\n<|im_start|>assistant\n",
            template.Render(hasImage: true, "QUESTION"));
    }

    [Fact]
    public void The_template_is_read_from_chat_template_json_and_from_tokenizer_config()
    {
        Assert.EndsWith("chat_template.json", QwenChatTemplate.FromCheckpoint(QwenTestData.PathOf("qwen2_5_vl_tiny")).Source);
        Assert.EndsWith("tokenizer_config.json", QwenChatTemplate.FromCheckpoint(QwenTestData.PathOf("qwen2_vl_tiny")).Source);
    }

    [Fact]
    public void Whitespace_that_jinja_trims_away_does_not_stop_recognition()
    {
        // Each variant renders exactly as the hub template under trim_blocks and lstrip_blocks (checked with Jinja2).
        string hub = HubTemplate();
        string squeezed = TagPattern().Replace(hub, m => m.Groups[1].Value +
            Regex.Replace(m.Groups[2].Value.Trim(), @"\s*([=!<>+]=?|\(|\)|,)\s*", "$1") + m.Groups[3].Value);
        string onLines = string.Concat(Pieces(hub).Select((piece, i) =>
            i > 0 && Pieces(hub)[i - 1].StartsWith("{%", StringComparison.Ordinal)
                ? (piece.StartsWith("{%", StringComparison.Ordinal) ? "\n  " : "\n") + piece
                : piece));
        string indented = string.Concat(Pieces(hub).Select((piece, i) =>
            i > 0 && piece.StartsWith("{%", StringComparison.Ordinal) && Pieces(hub)[i - 1].StartsWith("{%", StringComparison.Ordinal)
                ? "\n    {%-" + piece[2..].Replace('\'', '"')
                : piece.StartsWith('{') ? piece.Replace('\'', '"') : piece)) + "\n";

        Assert.All(new[] { squeezed, onLines, indented }, variant =>
        {
            Assert.NotEqual(hub, variant);
            Assert.Equal("variant", QwenChatTemplate.Parse(variant, "variant").Source);
        });
    }

    [Fact]
    public void A_whitespace_change_that_reaches_the_output_is_refused()
    {
        string changed = HubTemplate().Replace("<|im_start|>assistant\n", "<|im_start|>assistant \n", StringComparison.Ordinal);

        var error = Assert.Throws<InvalidDataException>(() => QwenChatTemplate.Parse(changed, "changed.jinja"));

        Assert.Contains("\"<|im_start|>assistant \\n\"", error.Message);
    }

    [Fact]
    public void An_unknown_template_is_refused_with_the_families_grid_renders_and_what_to_do()
    {
        const string qwen2Text =
            "{% for message in messages %}{{'<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>' + '\\n'}}" +
            "{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}";

        var error = Assert.Throws<InvalidDataException>(() => QwenChatTemplate.Parse(qwen2Text, "tokenizer_config.json"));

        Assert.Contains("The chat template in tokenizer_config.json is not one Grid can render", error.Message);
        Assert.Contains(QwenChatTemplate.RenderedFamilies, error.Message);
        Assert.Contains("Replace it with the chat_template of the model's Qwen2-VL-Instruct", error.Message);
    }

    [Fact]
    public void A_folder_without_a_chat_template_is_refused_with_what_to_do()
    {
        using var folder = new TemporaryFolder();
        File.WriteAllText(Path.Combine(folder.Path, "tokenizer_config.json"), "{\"model_max_length\": 32768}");

        var error = Assert.Throws<InvalidDataException>(() => QwenChatTemplate.FromCheckpoint(folder.Path));

        Assert.Contains("has no chat template", error.Message);
        Assert.Contains(QwenChatTemplate.RenderedFamilies, error.Message);
        Assert.Contains("copy the chat_template.json", error.Message);
    }

    [Fact]
    public void The_default_of_a_list_of_named_templates_is_the_one_used()
    {
        using var folder = new TemporaryFolder();
        var named = new[] { new { name = "tool_use", template = "{{ nonsense }}" }, new { name = "default", template = HubTemplate() } };
        File.WriteAllText(Path.Combine(folder.Path, "tokenizer_config.json"), JsonSerializer.Serialize(new { chat_template = named }));

        var template = QwenChatTemplate.FromCheckpoint(folder.Path);

        Assert.Contains("tokenizer_config.json", template.Source);
    }

    [Fact]
    public void A_chat_template_jinja_file_comes_first()
    {
        using var folder = new TemporaryFolder();
        File.WriteAllText(Path.Combine(folder.Path, "chat_template.jinja"), HubTemplate() + "\n");
        File.WriteAllText(Path.Combine(folder.Path, "chat_template.json"), "{\"chat_template\": \"{{ other }}\"}");

        var template = QwenChatTemplate.FromCheckpoint(folder.Path);

        Assert.EndsWith("chat_template.jinja", template.Source);
    }

    private static string HubTemplate()
    {
        using var json = JsonDocument.Parse(File.ReadAllText(QwenTestData.PathOf("qwen2_vl_tiny/tokenizer_config.json")));
        return json.RootElement.GetProperty("chat_template").GetString()!;
    }

    private static List<string> Pieces(string template) =>
        [.. PiecePattern().Split(template).Where(piece => piece.Length > 0)];

    [GeneratedRegex(@"(\{%|\{\{)(.*?)(%\}|\}\})")]
    private static partial Regex TagPattern();

    [GeneratedRegex(@"(\{%.*?%\}|\{\{.*?\}\})")]
    private static partial Regex PiecePattern();

    private sealed class TemporaryFolder : IDisposable
    {
        public string Path { get; } = Directory.CreateTempSubdirectory("grid-qwen-").FullName;

        public void Dispose() => Directory.Delete(Path, recursive: true);
    }
}
