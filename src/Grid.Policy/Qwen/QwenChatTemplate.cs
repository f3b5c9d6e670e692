using System.Text;
using System.Text.Encodings.Web;
using System.Text.Json;

namespace Grid.Policy.Qwen;

/// <summary>
/// A checkpoint's chat template, recognised rather than interpreted: Grid has no Jinja engine, so it renders only the
/// Qwen2-VL-Instruct template (Qwen2.5-VL-Instruct ships the same text), for one user turn, exactly as Jinja with
/// Hugging Face's settings (trim_blocks, lstrip_blocks) renders it. A template is recognised when it equals that one
/// once whitespace that cannot reach the output is set aside (see <see cref="QwenChatTemplateShape"/>); any other template is
/// refused with what to do instead.
/// </summary>
public sealed class QwenChatTemplate
{
    public const string ChatTemplateJinjaFile = "chat_template.jinja";
    public const string ChatTemplateJsonFile = "chat_template.json";
    public const string TokenizerConfigFile = "tokenizer_config.json";

    /// <summary>Which templates Grid renders, for error messages.</summary>
    public const string RenderedFamilies = "the Qwen2-VL-Instruct / Qwen2.5-VL-Instruct chat template";

    private const string DefaultSystemPrompt = "You are a helpful assistant.";

    // The hub's template (tokenizer_config.json of Qwen2-VL-*-Instruct, chat_template.json of Qwen2.5-VL-*-Instruct),
    // one Jinja piece per line here for reading; the pieces are joined with nothing.
    private static readonly string QwenVlInstructTemplate = string.Concat(
        "{% set image_count = namespace(value=0) %}",
        "{% set video_count = namespace(value=0) %}",
        "{% for message in messages %}",
        "{% if loop.first and message['role'] != 'system' %}",
        "<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n",
        "{% endif %}",
        "<|im_start|>{{ message['role'] }}\n",
        "{% if message['content'] is string %}",
        "{{ message['content'] }}<|im_end|>\n",
        "{% else %}",
        "{% for content in message['content'] %}",
        "{% if content['type'] == 'image' or 'image' in content or 'image_url' in content %}",
        "{% set image_count.value = image_count.value + 1 %}",
        "{% if add_vision_id %}Picture {{ image_count.value }}: {% endif %}",
        "<|vision_start|><|image_pad|><|vision_end|>",
        "{% elif content['type'] == 'video' or 'video' in content %}",
        "{% set video_count.value = video_count.value + 1 %}",
        "{% if add_vision_id %}Video {{ video_count.value }}: {% endif %}",
        "<|vision_start|><|video_pad|><|vision_end|>",
        "{% elif 'text' in content %}",
        "{{ content['text'] }}",
        "{% endif %}",
        "{% endfor %}",
        "<|im_end|>\n",
        "{% endif %}",
        "{% endfor %}",
        "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}");

    // Error messages quote template text as JSON, with '<' and '|' left readable.
    private static readonly JsonSerializerOptions ReadableJson = new() { Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    private static readonly IReadOnlyList<QwenChatTemplateShape.Piece> QwenVlInstructShape = QwenChatTemplateShape.Of(QwenVlInstructTemplate);

    private QwenChatTemplate(string source) => Source = source;

    /// <summary>Where the template was read from (a file, and the key within it).</summary>
    public string Source { get; }

    /// <summary>
    /// The template of a checkpoint folder, from (first found) chat_template.jinja, chat_template.json's
    /// "chat_template", or tokenizer_config.json's "chat_template" (a string, or a list of named templates of which
    /// "default" is used, as Hugging Face does).
    /// </summary>
    public static QwenChatTemplate FromCheckpoint(string checkpointFolder)
    {
        string folder = Path.GetFullPath(checkpointFolder);
        string jinja = Path.Combine(folder, ChatTemplateJinjaFile);
        if (File.Exists(jinja))
        {
            return Parse(File.ReadAllText(jinja), jinja);
        }

        foreach (string file in new[] { ChatTemplateJsonFile, TokenizerConfigFile })
        {
            string path = Path.Combine(folder, file);
            if (File.Exists(path) && ReadTemplateProperty(path) is { } template)
            {
                return Parse(template, $"\"chat_template\" of {path}");
            }
        }

        throw new InvalidDataException(
            $"{folder} has no chat template (none of {ChatTemplateJinjaFile}, {ChatTemplateJsonFile} or a " +
            $"\"chat_template\" in {TokenizerConfigFile}). Grid renders {RenderedFamilies}: copy the chat_template.json " +
            "of the model's Qwen2-VL-Instruct or Qwen2.5-VL-Instruct hub repository into the folder.");
    }

    /// <summary>Recognises <paramref name="template"/> (read from <paramref name="source"/>) or refuses it.</summary>
    public static QwenChatTemplate Parse(string template, string source)
    {
        ArgumentNullException.ThrowIfNull(template);
        IReadOnlyList<QwenChatTemplateShape.Piece> shape;
        try
        {
            shape = QwenChatTemplateShape.Of(template);
        }
        catch (FormatException error)
        {
            throw Unrecognised(source, error.Message);
        }

        for (int i = 0; i < Math.Max(shape.Count, QwenVlInstructShape.Count); i++)
        {
            var expected = i < QwenVlInstructShape.Count ? QwenVlInstructShape[i] : null;
            var found = i < shape.Count ? shape[i] : null;
            if (expected != found)
            {
                throw Unrecognised(
                    source, $"it differs at Jinja piece {i + 1}: expected {Describe(expected)}, found {Describe(found)}");
            }
        }

        return new QwenChatTemplate(source);
    }

    /// <summary>
    /// The prompt for one user turn (the image first, when there is one, then the question) and the generation
    /// prompt, with the template's default system message: what Hugging Face's apply_chat_template returns.
    /// </summary>
    public string Render(bool hasImage, string question)
    {
        ArgumentNullException.ThrowIfNull(question);
        var prompt = new StringBuilder()
            .Append(QwenTokenizer.ImStart).Append("system\n").Append(DefaultSystemPrompt).Append(QwenTokenizer.ImEnd)
            .Append('\n')
            .Append(QwenTokenizer.ImStart).Append("user\n");
        if (hasImage)
        {
            prompt.Append(QwenTokenizer.VisionStart).Append(QwenTokenizer.ImagePad).Append(QwenTokenizer.VisionEnd);
        }

        return prompt.Append(question).Append(QwenTokenizer.ImEnd).Append('\n')
            .Append(QwenTokenizer.ImStart).Append("assistant\n")
            .ToString();
    }

    private static string? ReadTemplateProperty(string path)
    {
        JsonDocument json;
        try
        {
            json = JsonDocument.Parse(File.ReadAllText(path));
        }
        catch (JsonException error)
        {
            throw new InvalidDataException($"{path} is not valid JSON ({error.Message}): restore the hub's file.", error);
        }

        using (json)
        {
            if (json.RootElement.ValueKind != JsonValueKind.Object ||
                !json.RootElement.TryGetProperty("chat_template", out var template))
            {
                return null;
            }

            switch (template.ValueKind)
            {
                case JsonValueKind.String:
                    return template.GetString();
                case JsonValueKind.Array:
                    foreach (var named in template.EnumerateArray())
                    {
                        if (named.ValueKind == JsonValueKind.Object &&
                            named.TryGetProperty("name", out var name) && name.ValueKind == JsonValueKind.String &&
                            name.GetString() == "default" &&
                            named.TryGetProperty("template", out var text) && text.ValueKind == JsonValueKind.String)
                        {
                            return text.GetString();
                        }
                    }

                    throw new InvalidDataException(
                        $"\"chat_template\" of {path} is a list of named templates without one named \"default\", " +
                        $"the one a prompt uses. Grid renders {RenderedFamilies}: make it the \"default\" entry.");
                case JsonValueKind.Null:
                    return null;
                default:
                    throw new InvalidDataException(
                        $"\"chat_template\" of {path} is a {template.ValueKind}, not a template string or a list of " +
                        "named templates: restore the hub's file.");
            }
        }
    }

    private static InvalidDataException Unrecognised(string source, string detail) =>
        new($"The chat template in {source} is not one Grid can render ({detail}). Grid has no Jinja engine and " +
            $"renders only {RenderedFamilies} (the hub's text; whitespace that does not reach the output may differ). " +
            "Replace it with the chat_template of the model's Qwen2-VL-Instruct or Qwen2.5-VL-Instruct hub repository.");

    private static string Describe(QwenChatTemplateShape.Piece? piece) => piece switch
    {
        null => "the end of the template",
        { Kind: QwenChatTemplateShape.PieceKind.Text } => "text " + JsonSerializer.Serialize(piece.Content, ReadableJson),
        { Kind: QwenChatTemplateShape.PieceKind.Statement } => "{% " + piece.Content + " %}",
        _ => "{{ " + piece.Content + " }}",
    };
}
