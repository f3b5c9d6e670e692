using Grid.Policy.Prompting;
using Grid.Tasks.Images;

namespace Grid.Policy.Qwen;

/// <summary>
/// A Qwen2-VL-family checkpoint's way with a task: the prompt is the chat template's user turn (the image, then the
/// question) with the generation prompt, image tokens expanded; a completion is its text tokenized on its own and
/// closed by the model's end of turn; the verifier reads the text before the first end token, special tokens dropped.
/// </summary>
public sealed class QwenPromptCodec(QwenVLModel model) : IPromptCodec
{
    private readonly int _endOfTurn = model.Processor.Tokenizer.ImEndId;

    public int[] EncodePrompt(RgbImage image, string question) => model.Processor.EncodePrompt(image, question).InputIds;

    public int[] EncodeCompletion(string completion) => [.. model.Processor.EncodeCompletion(completion), _endOfTurn];

    public string DecodeCompletion(ReadOnlySpan<int> completion)
    {
        int end = 0;
        while (end < completion.Length && !model.IsEndOfCompletion(completion[end]))
        {
            end++;
        }

        return model.Processor.Tokenizer.Decode(completion[..end], skipSpecialTokens: true);
    }
}
