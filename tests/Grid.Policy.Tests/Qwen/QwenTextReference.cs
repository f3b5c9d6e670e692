using System.Text.Json;
using Grid.Tasks.Images;

namespace Grid.Policy.Tests.Qwen;

/// <summary>The text and image side of the reference outputs (reference/&lt;family&gt;.json, tokenizer_cases.json).</summary>
internal static class QwenTextReference
{
    public static readonly string[] Checkpoints = ["qwen2_vl_tiny", "qwen2_5_vl_tiny"];

    public static IReadOnlyList<Case> CasesOf(string checkpoint)
    {
        string family = checkpoint.Replace("_tiny", string.Empty, StringComparison.Ordinal);
        using var json = JsonDocument.Parse(File.ReadAllText(QwenTestData.PathOf($"reference/{family}.json")));
        return [.. json.RootElement.GetProperty("cases").EnumerateArray().Select(Case.Read)];
    }

    public static IReadOnlyList<(string Text, int[] Ids)> TokenizerCases()
    {
        using var json = JsonDocument.Parse(File.ReadAllText(QwenTestData.PathOf("reference/tokenizer_cases.json")));
        return [.. json.RootElement.EnumerateArray().Select(c => (c.GetProperty("text").GetString()!, Ints(c.GetProperty("ids"))))];
    }

    public static RgbImage LoadImage(string relative) =>
        PngCodec.Decode(File.ReadAllBytes(QwenTestData.PathOf(relative)));

    private static int[] Ints(JsonElement array) => [.. array.EnumerateArray().Select(v => v.GetInt32())];

    internal sealed record Case(
        string Name,
        string? Image,
        string Question,
        string Completion,
        string PromptText,
        int[] InputIds,
        int CompletionStart,
        int[] CompletionIds,
        int[]? ResizedHw,
        int[]? ImageGridThw,
        int[]? PixelShape,
        float[]? PixelValues)
    {
        public static Case Read(JsonElement c)
        {
            static int[]? OptionalInts(JsonElement c, string name) =>
                c.TryGetProperty(name, out var v) && v.ValueKind == JsonValueKind.Array ? Ints(v) : null;

            var pixels = c.TryGetProperty("pixel_values", out var p) && p.ValueKind == JsonValueKind.Object ? p : (JsonElement?)null;
            return new Case(
                c.GetProperty("name").GetString()!,
                c.GetProperty("image").ValueKind == JsonValueKind.String ? c.GetProperty("image").GetString() : null,
                c.GetProperty("question").GetString()!,
                c.GetProperty("completion").GetString()!,
                c.GetProperty("prompt_text").GetString()!,
                Ints(c.GetProperty("input_ids")),
                c.GetProperty("completion_start").GetInt32(),
                Ints(c.GetProperty("completion_ids")),
                OptionalInts(c, "resized_hw"),
                OptionalInts(c, "image_grid_thw"),
                pixels is { } shape ? Ints(shape.GetProperty("shape")) : null,
                // Written as the shortest decimal that reads back as the same float32: read as float32, it is exact.
                pixels is { } data ? [.. data.GetProperty("data").EnumerateArray().Select(v => v.GetSingle())] : null);
        }

        public override string ToString() => Name;
    }
}
