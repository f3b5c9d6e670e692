using System.Text.Json.Serialization;
using Grid.Policy.Tokenization;

namespace Grid.Policy.Model;

/// <summary>
/// Shape of the vision-language policy. The sequence the decoder sees is [image patches][text tokens], so
/// <see cref="MaxSequenceLength"/> counts both: PatchCount + prompt + completion.
/// </summary>
public sealed record PolicyConfig(
    int ImageSize = 48,
    int PatchSize = 8,
    int Channels = 3,
    int DModel = 128,
    int Layers = 4,
    int Heads = 4,
    int MaxSequenceLength = 160,
    int VocabSize = Tokenizer.Size,
    double Dropout = 0,
    int StemChannels = 0,
    string? HubCheckpoint = null)
{
    /// <summary>
    /// The policy of a run that trains a Hugging Face Qwen2-VL-family checkpoint: the network, tokenizer and processor
    /// are that folder's (every silo reads it there) and the small model's fields are unused.
    /// </summary>
    public static PolicyConfig ForHub(string folder) => new() { HubCheckpoint = Path.GetFullPath(folder) };

    /// <summary>
    /// The default shape: 48x48 RGB through a 32-channel convolutional stem, in 16x16 patches (9 patches, one per
    /// counting cell), d 128, 4 layers, 4 heads.
    /// </summary>
    public static PolicyConfig Default { get; } = new(PatchSize: 16, StemChannels: 32);

    /// <summary>
    /// A very small policy for tests: the same 48x48 images in 16x16 patches (9 patches), d 32, 2 layers, 2 heads,
    /// room for 119 text tokens.
    /// </summary>
    public static PolicyConfig Tiny { get; } = new(PatchSize: 16, DModel: 32, Layers: 2, Heads: 2, MaxSequenceLength: 128);

    [JsonIgnore]
    public int PatchesPerSide => ImageSize / PatchSize;

    /// <summary>Image patches in front of the text.</summary>
    [JsonIgnore]
    public int PatchCount => PatchesPerSide * PatchesPerSide;

    /// <summary>Values in one flattened patch (PatchSize * PatchSize * Channels).</summary>
    /// <summary>
    /// Values in one flattened patch: PatchSize * PatchSize * Channels pixels without a stem; with a convolutional stem
    /// (StemChannels > 0, which reduces each side by <see cref="StemStride"/>) the stem's features under the patch.
    /// </summary>
    [JsonIgnore]
    public int PatchDimension => StemChannels > 0
        ? (PatchSize / StemStride) * (PatchSize / StemStride) * StemChannels
        : PatchSize * PatchSize * Channels;

    /// <summary>How much the convolutional stem shrinks each side of the image (two stride-2 convolutions).</summary>
    public const int StemStride = 4;

    /// <summary>Room left for text (prompt + completion) after the patches.</summary>
    [JsonIgnore]
    public int MaxTextLength => MaxSequenceLength - PatchCount;

    [JsonIgnore]
    public int HeadDimension => DModel / Heads;

    /// <summary>Throws <see cref="ArgumentException"/> naming the first impossible setting; returns this otherwise.</summary>
    public PolicyConfig Validate()
    {
        Require(ImageSize >= 1, $"ImageSize must be at least 1, got {ImageSize}.");
        Require(PatchSize >= 1, $"PatchSize must be at least 1, got {PatchSize}.");
        Require(ImageSize % PatchSize == 0,
            $"ImageSize {ImageSize} is not a multiple of PatchSize {PatchSize}; pick a patch size that divides it " +
            $"(e.g. {LargestDivisorAtMost(ImageSize, PatchSize)}).");
        Require(Channels >= 1, $"Channels must be at least 1, got {Channels}.");
        Require(DModel >= 1, $"DModel must be at least 1, got {DModel}.");
        Require(Heads >= 1, $"Heads must be at least 1, got {Heads}.");
        Require(DModel % Heads == 0, $"DModel {DModel} is not divisible by Heads {Heads}; each head needs DModel / Heads dimensions.");
        Require(Layers >= 1, $"Layers must be at least 1, got {Layers}.");
        Require(VocabSize >= Tokenizer.Size,
            $"VocabSize {VocabSize} is smaller than the tokenizer's vocabulary ({Tokenizer.Size}).");
        Require(MaxSequenceLength >= PatchCount + 2,
            $"MaxSequenceLength {MaxSequenceLength} leaves no room for text after the {PatchCount} image patches; " +
            $"it must be at least {PatchCount + 2} (patches + BOS + one token), and in practice patches + prompt + completion.");
        Require(StemChannels >= 0, $"StemChannels must be 0 (no stem) or positive, got {StemChannels}.");
        Require(StemChannels == 0 || PatchSize % StemStride == 0,
            $"With a convolutional stem the PatchSize must be a multiple of {StemStride}, got {PatchSize}.");
        Require(Dropout is >= 0 and < 1 && !double.IsNaN(Dropout), $"Dropout must be in [0, 1), got {Dropout}.");
        return this;
    }

    private static void Require(bool condition, string message)
    {
        if (!condition)
        {
            throw new ArgumentException($"Invalid PolicyConfig: {message}");
        }
    }

    private static int LargestDivisorAtMost(int n, int limit)
    {
        for (int d = Math.Min(n, limit); d > 1; d--)
        {
            if (n % d == 0)
            {
                return d;
            }
        }

        return 1;
    }
}
