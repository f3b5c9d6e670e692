using Grid.Policy.Tokenization;

namespace Grid.Policy.Prompting;

/// <summary>
/// The one place that fixes the layout the policy reads: [image patches][BOS] question, then the completion
/// starts right after (the model learns to emit &lt;think&gt; first) and ends with EOS. The image patches are put
/// in front by the model itself, so prompt tokens start at BOS. Without a tokenizer argument the
/// <see cref="Tokenizer.Default"/> one is used.
/// </summary>
public static class PromptFormat
{
    /// <summary>[BOS] + the question's characters.</summary>
    public static int[] EncodePrompt(string question) => EncodePrompt(question, Tokenizer.Default);

    /// <summary>[BOS] + the question's tokens under <paramref name="tokenizer"/>.</summary>
    public static int[] EncodePrompt(string question, Tokenizer tokenizer)
    {
        ArgumentNullException.ThrowIfNull(question);
        ArgumentNullException.ThrowIfNull(tokenizer);
        return [Tokenizer.BosId, .. tokenizer.Encode(question)];
    }

    /// <summary>A completion as the policy should produce it, e.g. for SFT targets: the text's tokens + EOS.</summary>
    public static int[] EncodeCompletion(string completion) => EncodeCompletion(completion, Tokenizer.Default);

    public static int[] EncodeCompletion(string completion, Tokenizer tokenizer)
    {
        ArgumentNullException.ThrowIfNull(completion);
        ArgumentNullException.ThrowIfNull(tokenizer);
        return [.. tokenizer.Encode(completion), Tokenizer.EosId];
    }

    /// <summary>The completion's text (EOS and anything after it dropped) for the verifier.</summary>
    public static string DecodeCompletion(ReadOnlySpan<int> completion) => DecodeCompletion(completion, Tokenizer.Default);

    public static string DecodeCompletion(ReadOnlySpan<int> completion, Tokenizer tokenizer)
    {
        ArgumentNullException.ThrowIfNull(tokenizer);
        int eos = completion.IndexOf(Tokenizer.EosId);
        return tokenizer.Decode(eos >= 0 ? completion[..eos] : completion);
    }
}
