using Grid.Tasks.Images;

namespace Grid.Policy.Qwen;

/// <summary>
/// Hugging Face's Qwen2-VL processor for one user turn: the chat template renders the question (after the image,
/// when there is one), the tokenizer encodes it, and the single &lt;|image_pad|&gt; becomes as many image tokens as
/// the vision tower will emit for the image (t * h * w / merge_size^2). A completion is the completion's text
/// tokenized on its own and appended after the prompt, as RL trainers score it.
/// </summary>
public sealed class QwenProcessor : IDisposable
{
    public QwenProcessor(QwenTokenizer tokenizer, QwenChatTemplate chatTemplate, QwenImageProcessor imageProcessor)
    {
        Tokenizer = tokenizer ?? throw new ArgumentNullException(nameof(tokenizer));
        ChatTemplate = chatTemplate ?? throw new ArgumentNullException(nameof(chatTemplate));
        ImageProcessor = imageProcessor ?? throw new ArgumentNullException(nameof(imageProcessor));
    }

    public QwenTokenizer Tokenizer { get; }

    public QwenChatTemplate ChatTemplate { get; }

    public QwenImageProcessor ImageProcessor { get; }

    /// <summary>
    /// The tokenizer (tokenizer.json), chat template (chat_template.jinja, chat_template.json or
    /// tokenizer_config.json) and image processor (preprocessor_config.json) of a hub-layout checkpoint folder.
    /// </summary>
    public static QwenProcessor FromCheckpoint(string checkpointFolder)
    {
        var chatTemplate = QwenChatTemplate.FromCheckpoint(checkpointFolder);
        var imageProcessor = QwenImageProcessor.FromCheckpoint(checkpointFolder);
        return new QwenProcessor(QwenTokenizer.FromCheckpoint(checkpointFolder), chatTemplate, imageProcessor);
    }

    /// <summary>The prompt of one user turn: its ids (image tokens expanded) and, with an image, the tower's input.</summary>
    public QwenProcessorPrompt EncodePrompt(RgbImage? image, string question)
    {
        ArgumentNullException.ThrowIfNull(question);
        string text = ChatTemplate.Render(image is not null, question);
        int[] ids = Tokenizer.Encode(text);
        int imagePad = Tokenizer.ImagePadId;
        int pads = ids.Count(id => id == imagePad);
        if (pads != (image is null ? 0 : 1))
        {
            throw new ArgumentException(
                $"The prompt holds {pads} {QwenTokenizer.ImagePad} tokens for {(image is null ? "no image" : "one image")}: " +
                $"the question must not write {QwenTokenizer.ImagePad} itself.", nameof(question));
        }

        if (image is null)
        {
            return new QwenProcessorPrompt(text, ids, null);
        }

        var pixels = ImageProcessor.Process(image);
        int tokens = pixels.TokenCount(ImageProcessor.Config.MergeSize);
        int at = Array.IndexOf(ids, imagePad);
        // Expanding the id equals Hugging Face's expanding the text: <|image_pad|> is a special token, so the text
        // around it is tokenized the same either way.
        var expanded = new int[ids.Length - 1 + tokens];
        ids.AsSpan(0, at).CopyTo(expanded);
        expanded.AsSpan(at, tokens).Fill(imagePad);
        ids.AsSpan(at + 1).CopyTo(expanded.AsSpan(at + tokens));
        return new QwenProcessorPrompt(text, expanded, pixels);
    }

    /// <summary>The completion's ids: its text tokenized on its own (no special tokens added), to append to a prompt.</summary>
    public int[] EncodeCompletion(string completion)
    {
        ArgumentNullException.ThrowIfNull(completion);
        return Tokenizer.Encode(completion);
    }

    public void Dispose() => Tokenizer.Dispose();
}
