using Grid.Policy.Tokenization;

namespace Grid.Policy.Prompting;

/// <summary>
/// The one place that fixes the layout the policy reads: [image patches][BOS] question, then the completion
/// starts right after (the model learns to emit &lt;think&gt; first) and ends with EOS. The image patches are put
/// in front by the model itself, so prompt tokens start at BOS.
/// </summary>
public static class PromptFormat
{
    /// <summary>[BOS] + the question's characters.</summary>
    public static int[] EncodePrompt(string question)
    {
        ArgumentNullException.ThrowIfNull(question);
        return [Tokenizer.BosId, .. Tokenizer.Default.Encode(question)];
    }

    /// <summary>A completion as the policy should produce it, e.g. for SFT targets: the text's tokens + EOS.</summary>
    public static int[] EncodeCompletion(string completion)
    {
        ArgumentNullException.ThrowIfNull(completion);
        return [.. Tokenizer.Default.Encode(completion), Tokenizer.EosId];
    }

    /// <summary>The completion's text (EOS and anything after it dropped) for the verifier.</summary>
    public static string DecodeCompletion(ReadOnlySpan<int> completion)
    {
        int eos = completion.IndexOf(Tokenizer.EosId);
        return Tokenizer.Default.Decode(eos >= 0 ? completion[..eos] : completion);
    }
}
