using System.Collections.Concurrent;
using System.Text.Json;
using Grid.Policy.Qwen;

namespace Grid.Policy.Tests.Qwen;

/// <summary>A tensor of the reference JSON: shape and row-major float64 data.</summary>
internal sealed record ReferenceTensor(long[] Shape, double[] Data);

/// <summary>One case of reference/&lt;family&gt;.json (transformers' outputs in float64 for one prompt + completion).</summary>
internal sealed record ReferenceCase(
    string Name,
    int[] InputIds,
    int CompletionStart,
    int[] CompletionIds,
    (int T, int H, int W)? Grid,
    float[]? PixelValues,
    long[][] PositionIds,
    long RopeDelta,
    ReferenceTensor? PatchEmbed,
    IReadOnlyList<ReferenceTensor> Blocks,
    long[]? WindowIndex,
    ReferenceTensor? Merger,
    double[] CompletionLogProbs,
    ReferenceTensor LastHidden)
{
    public int[] Prompt => InputIds[..CompletionStart];

    public override string ToString() => Name;
}

/// <summary>The reference outputs and the tiny checkpoints, each read once per test run.</summary>
internal static class QwenReference
{
    public const string Qwen2VL = "qwen2_vl";
    public const string Qwen25VL = "qwen2_5_vl";

    private static readonly ConcurrentDictionary<string, Lazy<IReadOnlyList<ReferenceCase>>> Cases = new();
    private static readonly ConcurrentDictionary<string, Lazy<QwenCheckpoint>> Checkpoints = new();
    private static readonly ConcurrentDictionary<string, Lazy<QwenVLModel>> Policies = new();

    public static string CheckpointFolder(string family) => QwenTestData.PathOf(family + "_tiny");

    public static IReadOnlyList<ReferenceCase> CasesOf(string family) =>
        Cases.GetOrAdd(family, f => new Lazy<IReadOnlyList<ReferenceCase>>(() => Read(f))).Value;

    public static ReferenceCase Case(string family, string name) => CasesOf(family).Single(c => c.Name == name);

    /// <summary>The tiny checkpoint, loaded once and shared (read-only use: forwards under no_grad).</summary>
    public static QwenCheckpoint Checkpoint(string family) =>
        Checkpoints.GetOrAdd(family, f => new Lazy<QwenCheckpoint>(() => HuggingFaceCheckpoint.Load(CheckpointFolder(f)))).Value;

    /// <summary>The tiny checkpoint as a policy (processor attached), loaded once and shared for read-only use.</summary>
    public static QwenVLModel Policy(string family) =>
        Policies.GetOrAdd(family, f => new Lazy<QwenVLModel>(() => HuggingFaceCheckpoint.LoadPolicy(CheckpointFolder(f)))).Value;

    /// <summary>A case's input image (images/NAME.png), or null for a text-only case.</summary>
    public static Grid.Tasks.Images.RgbImage? ImageOf(ReferenceCase c) => c.Grid is null
        ? null
        : Grid.Tasks.Images.PolicyImage.Decode(File.ReadAllBytes(QwenTestData.PathOf(Path.Combine("images", c.Name + ".png"))));

    /// <summary>A case's reference pixel values [N, C*T*P*P] and grid, or null for a text-only case.</summary>
    public static (TorchSharp.torch.Tensor PixelValues, (int T, int H, int W) Grid)? PixelsOf(ReferenceCase c) => c.Grid is { } grid
        ? (TorchSharp.torch.tensor(c.PixelValues!, [c.PixelValues!.Length / 1176, 1176]), grid)
        : null;

    public static double MaxAbsDifference(ReadOnlySpan<float> actual, ReadOnlySpan<double> expected)
    {
        Assert.Equal(expected.Length, actual.Length);
        double max = 0;
        for (int i = 0; i < actual.Length; i++)
        {
            max = Math.Max(max, Math.Abs(actual[i] - expected[i]));
        }

        return max;
    }

    private static IReadOnlyList<ReferenceCase> Read(string family)
    {
        using var document = JsonDocument.Parse(File.ReadAllBytes(QwenTestData.PathOf($"reference/{family}.json")));
        return document.RootElement.GetProperty("cases").EnumerateArray().Select(ReadCase).ToList();
    }

    private static ReferenceCase ReadCase(JsonElement c)
    {
        var vision = c.GetProperty("vision");
        bool hasVision = vision.ValueKind == JsonValueKind.Object;
        var grid = c.GetProperty("image_grid_thw");
        return new ReferenceCase(
            c.GetProperty("name").GetString()!,
            Ints(c.GetProperty("input_ids")),
            c.GetProperty("completion_start").GetInt32(),
            Ints(c.GetProperty("completion_ids")),
            grid.ValueKind == JsonValueKind.Array ? (grid[0].GetInt32(), grid[1].GetInt32(), grid[2].GetInt32()) : null,
            c.GetProperty("pixel_values") is { ValueKind: JsonValueKind.Object } pixels
                ? pixels.GetProperty("data").EnumerateArray().Select(v => (float)v.GetDouble()).ToArray() : null,
            c.GetProperty("position_ids").EnumerateArray().Select(axis => axis.EnumerateArray().Select(v => v.GetInt64()).ToArray()).ToArray(),
            c.GetProperty("rope_delta").GetInt64(),
            hasVision ? Tensor(vision.GetProperty("patch_embed")) : null,
            hasVision ? vision.GetProperty("blocks").EnumerateArray().Select(Tensor).ToList() : [],
            hasVision && vision.TryGetProperty("window_index", out var window)
                ? window.EnumerateArray().Select(v => v.GetInt64()).ToArray() : null,
            hasVision ? Tensor(vision.GetProperty("merger")) : null,
            c.GetProperty("completion_logprobs").EnumerateArray().Select(v => v.GetDouble()).ToArray(),
            Tensor(c.GetProperty("last_hidden")));
    }

    private static int[] Ints(JsonElement array) => array.EnumerateArray().Select(v => v.GetInt32()).ToArray();

    private static ReferenceTensor Tensor(JsonElement t) => new(
        t.GetProperty("shape").EnumerateArray().Select(v => v.GetInt64()).ToArray(),
        t.GetProperty("data").EnumerateArray().Select(v => v.GetDouble()).ToArray());
}
