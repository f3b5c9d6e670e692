using Grid.Tasks.Images;

namespace Grid.Policy.Prompting;

/// <summary>
/// How a policy reads a task's question and writes its answer, whatever its tokenizer: Grid's character
/// <see cref="Tokenization.Tokenizer"/>, or a Hugging Face checkpoint's tokenizer, chat template and image processor.
/// </summary>
public interface IPromptCodec
{
    /// <summary>The ids the policy reads before its completion, for a question about <paramref name="image"/>.</summary>
    int[] EncodePrompt(RgbImage image, string question);

    /// <summary>A completion as the policy should produce it (an SFT target): its tokens, then the end token.</summary>
    int[] EncodeCompletion(string completion);

    /// <summary>The completion's text for the verifier: the end token and anything after it dropped.</summary>
    string DecodeCompletion(ReadOnlySpan<int> completion);
}
