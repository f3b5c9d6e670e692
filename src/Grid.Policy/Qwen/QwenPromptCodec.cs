using System.Collections.Concurrent;
using Grid.Policy.Prompting;
using Grid.Tasks.Images;

namespace Grid.Policy.Qwen;

/// <summary>
/// A Qwen2-VL-family checkpoint's way with a task: the prompt is the chat template's user turn (the image, then the
/// question) with the generation prompt, image tokens expanded; a completion is its text tokenized on its own and
/// closed by the model's end of turn; the verifier reads the text before the first end token, special tokens dropped.
/// </summary>
public sealed class QwenPromptCodec : IPromptCodec
{
    private static readonly ConcurrentDictionary<string, Lazy<QwenPromptCodec>> ByFolder = new();

    private readonly QwenProcessor _processor;
    private readonly Func<int, bool> _isEnd;

    public QwenPromptCodec(QwenProcessor processor, Func<int, bool> isEnd)
    {
        _processor = processor;
        _isEnd = isEnd;
    }

    /// <summary>The codec of a loaded policy: its processor and its end tokens.</summary>
    public QwenPromptCodec(QwenVLModel model) : this(model.Processor, model.IsEndOfCompletion)
    {
    }

    /// <summary>
    /// The codec of a checkpoint folder, read once per process (a silo's prompt groups encode with it for every step)
    /// and kept for the process's life: the end tokens are config.json's and generation_config.json's.
    /// </summary>
    public static QwenPromptCodec ForFolder(string folder) =>
        ByFolder.GetOrAdd(Path.GetFullPath(folder), path => new Lazy<QwenPromptCodec>(() =>
        {
            var processor = QwenProcessor.FromCheckpoint(path);
            var ends = HuggingFaceCheckpoint.EndTokens(path);
            return new QwenPromptCodec(processor, ends.Contains);
        })).Value;

    public int[] EncodePrompt(RgbImage image, string question) => _processor.EncodePrompt(image, question).InputIds;

    public int[] EncodeCompletion(string completion) => [.. _processor.EncodeCompletion(completion), _processor.Tokenizer.ImEndId];

    public string DecodeCompletion(ReadOnlySpan<int> completion)
    {
        int end = 0;
        while (end < completion.Length && !_isEnd(completion[end]))
        {
            end++;
        }

        return _processor.Tokenizer.Decode(completion[..end], skipSpecialTokens: true);
    }
}
