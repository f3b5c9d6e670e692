using System.Text.Json;

namespace Grid.Policy.Qwen;

/// <summary>
/// A checkpoint's preprocessor_config.json (Hugging Face's Qwen2VLImageProcessor settings). Absent keys take
/// transformers' defaults; the pixel bounds come from "min_pixels"/"max_pixels" or, in newer files,
/// "size": {"shortest_edge", "longest_edge"} (the former win when both are written, as in transformers).
/// </summary>
public sealed record QwenImageProcessorConfig
{
    public const string FileName = "preprocessor_config.json";

    /// <summary>PIL's number for bicubic resampling, the only filter Grid implements.</summary>
    public const int BicubicResample = 3;

    public int MinPixels { get; init; } = 56 * 56;

    public int MaxPixels { get; init; } = 28 * 28 * 1280;

    public int PatchSize { get; init; } = 14;

    public int TemporalPatchSize { get; init; } = 2;

    public int MergeSize { get; init; } = 2;

    /// <summary>Per channel (R, G, B); OpenAI CLIP's by default.</summary>
    public IReadOnlyList<double> ImageMean { get; init; } = [0.48145466, 0.4578275, 0.40821073];

    public IReadOnlyList<double> ImageStd { get; init; } = [0.26862954, 0.26130258, 0.27577711];

    public double RescaleFactor { get; init; } = 1.0 / 255;

    public bool DoResize { get; init; } = true;

    public bool DoRescale { get; init; } = true;

    public bool DoNormalize { get; init; } = true;

    public bool DoConvertRgb { get; init; } = true;

    public int Resample { get; init; } = BicubicResample;

    /// <summary>Side of the square the vision tower merges into one token: patch_size * merge_size pixels.</summary>
    public int Factor => PatchSize * MergeSize;

    /// <summary>Values per row of pixel values: channels * temporal_patch_size * patch_size^2.</summary>
    public int PatchValues => 3 * TemporalPatchSize * PatchSize * PatchSize;

    public static QwenImageProcessorConfig FromCheckpoint(string checkpointFolder) =>
        FromFile(Path.Combine(checkpointFolder, FileName));

    public static QwenImageProcessorConfig FromFile(string path)
    {
        string full = Path.GetFullPath(path);
        if (!File.Exists(full))
        {
            throw new FileNotFoundException(
                $"No {FileName} at {full}. A Qwen2-VL checkpoint folder needs the preprocessor_config.json of its " +
                "Hugging Face repository: copy it into the folder, next to config.json.", full);
        }

        try
        {
            using var json = JsonDocument.Parse(File.ReadAllText(full));
            return Parse(json.RootElement);
        }
        catch (Exception error) when (error is JsonException or InvalidOperationException or FormatException
                                          or ArgumentException)
        {
            throw new InvalidDataException(
                $"{full} is not a usable Qwen2-VL preprocessor_config.json ({error.Message}). Restore the file of the " +
                "checkpoint's hub repository.", error);
        }
    }

    /// <summary>Reads the settings from a preprocessor_config.json document.</summary>
    public static QwenImageProcessorConfig Parse(JsonElement root)
    {
        var defaults = new QwenImageProcessorConfig();
        int minPixels = defaults.MinPixels;
        int maxPixels = defaults.MaxPixels;
        if (root.TryGetProperty("size", out var size) && size.ValueKind == JsonValueKind.Object)
        {
            if (!size.TryGetProperty("shortest_edge", out var shortest) || !size.TryGetProperty("longest_edge", out var longest))
            {
                throw new ArgumentException("\"size\" must have \"shortest_edge\" and \"longest_edge\" (pixel counts)");
            }

            minPixels = shortest.GetInt32();
            maxPixels = longest.GetInt32();
        }

        var config = new QwenImageProcessorConfig
        {
            MinPixels = Int(root, "min_pixels") ?? minPixels,
            MaxPixels = Int(root, "max_pixels") ?? maxPixels,
            PatchSize = Int(root, "patch_size") ?? defaults.PatchSize,
            TemporalPatchSize = Int(root, "temporal_patch_size") ?? defaults.TemporalPatchSize,
            MergeSize = Int(root, "merge_size") ?? defaults.MergeSize,
            ImageMean = Channels(root, "image_mean") ?? defaults.ImageMean,
            ImageStd = Channels(root, "image_std") ?? defaults.ImageStd,
            RescaleFactor = Present(root, "rescale_factor") is { } factor ? factor.GetDouble() : defaults.RescaleFactor,
            DoResize = Bool(root, "do_resize") ?? true,
            DoRescale = Bool(root, "do_rescale") ?? true,
            DoNormalize = Bool(root, "do_normalize") ?? true,
            DoConvertRgb = Bool(root, "do_convert_rgb") ?? true,
            Resample = Int(root, "resample") ?? BicubicResample,
        };
        config.Validate();
        return config;
    }

    private void Validate()
    {
        if (MinPixels < 1 || MaxPixels < MinPixels)
        {
            throw new ArgumentException($"min_pixels {MinPixels} and max_pixels {MaxPixels} must satisfy 1 <= min <= max");
        }

        if (PatchSize < 1 || TemporalPatchSize < 1 || MergeSize < 1)
        {
            throw new ArgumentException(
                $"patch_size {PatchSize}, temporal_patch_size {TemporalPatchSize} and merge_size {MergeSize} must be positive");
        }

        if (ImageStd.Any(std => std == 0))
        {
            throw new ArgumentException("image_std has a zero, which normalisation would divide by");
        }

        if (Resample != BicubicResample)
        {
            throw new ArgumentException(
                $"resample {Resample} is not bicubic ({BicubicResample}), the only filter Grid implements (the one " +
                "Qwen2-VL checkpoints use): set \"resample\": 3");
        }
    }

    private static JsonElement? Present(JsonElement root, string name) =>
        root.TryGetProperty(name, out var value) && value.ValueKind != JsonValueKind.Null ? value : null;

    private static int? Int(JsonElement root, string name) => Present(root, name)?.GetInt32();

    private static bool? Bool(JsonElement root, string name) => Present(root, name)?.GetBoolean();

    private static double[]? Channels(JsonElement root, string name)
    {
        if (Present(root, name) is not { } value)
        {
            return null;
        }

        double[] channels = value.ValueKind == JsonValueKind.Array
            ? [.. value.EnumerateArray().Select(v => v.GetDouble())]
            : [value.GetDouble(), value.GetDouble(), value.GetDouble()];
        return channels.Length == 3
            ? channels
            : throw new ArgumentException($"\"{name}\" has {channels.Length} values; an RGB image needs 3");
    }
}
