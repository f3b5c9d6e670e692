namespace Grid.Policy.Generation;

/// <summary>
/// One sampled completion.
/// </summary>
/// <param name="Tokens">The completion's tokens, including the final EOS when one was produced.</param>
/// <param name="LogProbs">
/// For each token, its log-probability under the policy at the sampling temperature, i.e.
/// log_softmax(logits / Temperature), taken BEFORE top-p filtering (and also reported for greedy decoding). At
/// temperature 1 these equal SequenceLogProbs of the same completion.
/// </param>
/// <param name="EndedWithEos">True when the completion ended with EOS, false when it hit MaxNewTokens.</param>
public sealed record GenerationResult(int[] Tokens, float[] LogProbs, bool EndedWithEos);
