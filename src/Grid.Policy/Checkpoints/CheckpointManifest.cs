using Grid.Policy.Model;
using Grid.Policy.Tokenization;

namespace Grid.Policy.Checkpoints;

/// <summary>
/// checkpoint.json: what a checkpoint directory holds. Written last, so a directory with a manifest is complete.
/// </summary>
/// <param name="FormatVersion">Layout version of the directory (currently 1).</param>
/// <param name="WeightsFile">The safetensors file's name inside the directory.</param>
/// <param name="WeightsSha256">Lower-case hex sha256 of the weights file's bytes.</param>
/// <param name="WeightsBytes">Size of the weights file.</param>
/// <param name="ParameterCount">Number of scalar parameters in the weights.</param>
/// <param name="Config">The policy's shape.</param>
/// <param name="Tokenizer">The tokenizer the policy reads and writes with. Absent (null) in checkpoints written
/// before tokenizers were recorded: those were all <see cref="Tokenization.Tokenizer.Default"/>.</param>
public sealed record CheckpointManifest(
    int FormatVersion, string WeightsFile, string WeightsSha256, long WeightsBytes, long ParameterCount, PolicyConfig Config,
    TokenizerRecord? Tokenizer = null)
{
    /// <summary>The recorded tokenizer, or the one an old checkpoint without a record was trained with.</summary>
    public TokenizerRecord TokenizerOrDefault => Tokenizer ?? TokenizerRecord.Of(Tokenization.Tokenizer.Default);
}

/// <summary>A tokenizer's identity as a checkpoint records it: its name and the sha256 of its vocabulary.</summary>
public sealed record TokenizerRecord(string Name, string VocabularySha256, int VocabSize)
{
    public static TokenizerRecord Of(Tokenizer tokenizer)
    {
        ArgumentNullException.ThrowIfNull(tokenizer);
        return new TokenizerRecord(tokenizer.Name, tokenizer.VocabularySha256, tokenizer.VocabSize);
    }

    public bool Matches(Tokenizer tokenizer) =>
        tokenizer.Name == Name && tokenizer.VocabularySha256 == VocabularySha256 && tokenizer.VocabSize == VocabSize;

    public override string ToString() => $"{Name} ({VocabSize} tokens, vocabulary sha256 {VocabularySha256})";
}
