using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace Grid.Policy.Qwen;

/// <summary>
/// config.json of a Hugging Face Qwen2-VL or Qwen2.5-VL checkpoint: the text decoder's fields (at the top level in
/// the hub's files, under text_config in newer transformers' files; both are read), the vision tower's and the
/// special token ids. <see cref="Parse"/> refuses what this port cannot run, naming the field and its value.
/// </summary>
public sealed record QwenVLConfig(
    string ModelType,
    QwenVLFamily Family,
    int VocabSize,
    int HiddenSize,
    int IntermediateSize,
    int NumHiddenLayers,
    int NumAttentionHeads,
    int NumKeyValueHeads,
    double RmsNormEps,
    double RopeTheta,
    IReadOnlyList<int> MropeSection,
    bool TieWordEmbeddings,
    int MaxPositionEmbeddings,
    IReadOnlyList<int> EosTokenIds,
    int VisionStartTokenId,
    int VisionEndTokenId,
    int ImageTokenId,
    int VideoTokenId,
    string TorchDtype,
    QwenVisionConfig Vision)
{
    public const string Qwen2VLModelType = "qwen2_vl";
    public const string Qwen25VLModelType = "qwen2_5_vl";

    public int HeadDim => HiddenSize / NumAttentionHeads;

    /// <summary>Reads and checks <paramref name="path"/> (a config.json).</summary>
    public static QwenVLConfig Load(string path)
    {
        if (!File.Exists(path))
        {
            throw new FileNotFoundException($"No config.json at '{path}': a Hugging Face checkpoint folder needs one.", path);
        }

        try
        {
            return Parse(File.ReadAllText(path));
        }
        catch (FormatException e)
        {
            throw new FormatException($"{path}: {e.Message}", e);
        }
    }

    /// <summary>Parses config.json text of model_type qwen2_vl or qwen2_5_vl; anything unsupported is a FormatException.</summary>
    public static QwenVLConfig Parse(string json)
    {
        JsonObject root;
        try
        {
            root = JsonNode.Parse(json) as JsonObject ?? throw new FormatException("config.json is not a JSON object.");
        }
        catch (JsonException e)
        {
            throw new FormatException($"config.json is not valid JSON ({e.Message}).", e);
        }

        string modelType = root["model_type"]?.GetValue<string>()
            ?? throw new FormatException($"config.json has no model_type; supported: {Qwen2VLModelType}, {Qwen25VLModelType}.");
        var family = modelType switch
        {
            Qwen2VLModelType => QwenVLFamily.Qwen2VL,
            Qwen25VLModelType => QwenVLFamily.Qwen25VL,
            _ => throw new FormatException(
                $"model_type '{modelType}' is not supported; supported: {Qwen2VLModelType}, {Qwen25VLModelType}."),
        };

        // Newer transformers nest the decoder's fields under text_config; the hub's files keep them at the top level.
        var text = root["text_config"] as JsonObject ?? root;
        var fields = new Fields(text, root, text == root ? "" : "text_config.");
        var rope = text["rope_scaling"] as JsonObject ?? text["rope_parameters"] as JsonObject
            ?? root["rope_scaling"] as JsonObject ?? root["rope_parameters"] as JsonObject
            ?? throw new FormatException("config.json has neither rope_scaling nor rope_parameters: M-RoPE needs mrope_section.");
        string ropeType = (rope["rope_type"] ?? rope["type"])?.GetValue<string>() ?? "default";
        if (ropeType is not ("mrope" or "default"))
        {
            throw new FormatException($"rope type '{ropeType}' is not supported; only mrope (default rotary frequencies) is.");
        }

        var mrope = IntList(rope["mrope_section"], "rope_scaling.mrope_section")
            ?? throw new FormatException("rope_scaling has no mrope_section.");
        double ropeTheta = rope["rope_theta"] is JsonNode theta ? Number(theta, "rope_parameters.rope_theta")
            : fields.Double("rope_theta", 1_000_000.0);
        if (fields.Bool("use_sliding_window", false))
        {
            throw new FormatException("use_sliding_window is true; sliding-window attention is not supported.");
        }

        string act = fields.String("hidden_act", "silu");
        if (act != "silu")
        {
            throw new FormatException($"hidden_act '{act}' is not supported by the decoder; it runs silu (SwiGLU).");
        }

        int hidden = fields.Int("hidden_size");
        int heads = fields.Int("num_attention_heads");
        var eos = root["eos_token_id"] ?? text["eos_token_id"];
        var config = new QwenVLConfig(
            modelType,
            family,
            fields.Int("vocab_size"),
            hidden,
            fields.Int("intermediate_size"),
            fields.Int("num_hidden_layers"),
            heads,
            fields.Int("num_key_value_heads", heads),
            fields.Double("rms_norm_eps", 1e-6),
            ropeTheta,
            mrope,
            root["tie_word_embeddings"] is JsonNode tie ? tie.GetValue<bool>() : fields.Bool("tie_word_embeddings", false),
            fields.Int("max_position_embeddings", 32768),
            eos is JsonArray ? IntList(eos, "eos_token_id")! : eos is null ? [] : [Integer(eos, "eos_token_id")],
            fields.Int("vision_start_token_id"),
            fields.Int("vision_end_token_id"),
            fields.Int("image_token_id"),
            fields.Int("video_token_id"),
            (root["torch_dtype"] ?? root["dtype"] ?? text["torch_dtype"] ?? text["dtype"])?.GetValue<string>() ?? "float32",
            ParseVision(root["vision_config"] as JsonObject
                ?? throw new FormatException("config.json has no vision_config object."), family));
        return config.Validate();
    }

    /// <summary>Checks the shapes fit together; each error names the field and its value.</summary>
    public QwenVLConfig Validate()
    {
        Positive(VocabSize, "vocab_size");
        Positive(HiddenSize, "hidden_size");
        Positive(IntermediateSize, "intermediate_size");
        Positive(NumHiddenLayers, "num_hidden_layers");
        Positive(NumAttentionHeads, "num_attention_heads");
        Positive(NumKeyValueHeads, "num_key_value_heads");
        if (HiddenSize % NumAttentionHeads != 0)
        {
            throw new FormatException(
                $"hidden_size {HiddenSize} is not divisible by num_attention_heads {NumAttentionHeads}.");
        }

        if (NumAttentionHeads % NumKeyValueHeads != 0)
        {
            throw new FormatException(
                $"num_attention_heads {NumAttentionHeads} is not divisible by num_key_value_heads {NumKeyValueHeads}.");
        }

        if (HeadDim % 2 != 0)
        {
            throw new FormatException($"The head dimension {HeadDim} (hidden_size / num_attention_heads) must be even for rotary embeddings.");
        }

        if (MropeSection.Count != 3 || MropeSection.Any(s => s < 0) || MropeSection.Sum() * 2 != HeadDim)
        {
            throw new FormatException(
                $"mrope_section [{string.Join(", ", MropeSection)}] must be 3 non-negative sizes summing to head_dim / 2 = {HeadDim / 2}.");
        }

        if (!(RmsNormEps > 0) || !(RopeTheta > 0))
        {
            throw new FormatException($"rms_norm_eps {RmsNormEps} and rope_theta {RopeTheta} must be positive.");
        }

        foreach (var (id, name) in new[] { (ImageTokenId, "image_token_id"), (VideoTokenId, "video_token_id"),
                     (VisionStartTokenId, "vision_start_token_id"), (VisionEndTokenId, "vision_end_token_id") })
        {
            if (id < 0 || id >= VocabSize)
            {
                throw new FormatException($"{name} {id} is outside the vocabulary [0, {VocabSize}).");
            }
        }

        var v = Vision;
        Positive(v.Depth, "vision_config.depth");
        Positive(v.Width, "vision_config width (embed_dim / hidden_size)");
        Positive(v.MlpHiddenSize, "vision_config MLP width");
        Positive(v.NumHeads, "vision_config.num_heads");
        Positive(v.InChannels, "vision_config.in_channels");
        Positive(v.PatchSize, "vision_config.patch_size");
        Positive(v.SpatialMergeSize, "vision_config.spatial_merge_size");
        Positive(v.TemporalPatchSize, "vision_config.temporal_patch_size");
        if (v.Width % v.NumHeads != 0 || v.HeadDim % 4 != 0)
        {
            throw new FormatException(
                $"vision_config width {v.Width} / num_heads {v.NumHeads} must be a whole head dimension divisible by 4 (2-D rotary halves).");
        }

        if (v.OutHiddenSize != HiddenSize)
        {
            throw new FormatException(
                $"The vision merger's output width {v.OutHiddenSize} is not the language model's hidden_size {HiddenSize}.");
        }

        if (v.HiddenAct is not ("quick_gelu" or "gelu" or "silu"))
        {
            throw new FormatException($"vision_config.hidden_act '{v.HiddenAct}' is not supported; supported: quick_gelu, gelu, silu.");
        }

        if (Family == QwenVLFamily.Qwen25VL)
        {
            if (v.WindowSize <= 0 || v.WindowSize % (v.SpatialMergeSize * v.PatchSize) != 0)
            {
                throw new FormatException(
                    $"vision_config.window_size {v.WindowSize} must be a positive multiple of spatial_merge_size * patch_size = {v.SpatialMergeSize * v.PatchSize}.");
            }

            foreach (int block in v.FullAttentionBlocks)
            {
                if (block < 0 || block >= v.Depth)
                {
                    throw new FormatException($"vision_config.fullatt_block_indexes holds {block}, outside the {v.Depth} blocks.");
                }
            }
        }

        return this;
    }

    private static QwenVisionConfig ParseVision(JsonObject vision, QwenVLFamily family)
    {
        var fields = new Fields(vision, vision, "vision_config.");
        int inChannels = vision["in_channels"] is not null ? fields.Int("in_channels") : fields.Int("in_chans", 3);
        if (family == QwenVLFamily.Qwen2VL)
        {
            // transformers' Qwen2VLVisionConfig defaults for fields a hub file leaves out.
            int embed = fields.Int("embed_dim", 1280);
            double ratio = fields.Double("mlp_ratio", 4);
            return new QwenVisionConfig(
                fields.Int("depth", 32), embed, (int)(embed * ratio), fields.Int("hidden_size", 3584),
                fields.Int("num_heads", 16), inChannels, fields.Int("patch_size", 14), fields.Int("spatial_merge_size", 2),
                fields.Int("temporal_patch_size", 2), fields.String("hidden_act", "quick_gelu"), 0, [], 0);
        }

        int width = fields.Int("hidden_size", 3584);
        return new QwenVisionConfig(
            fields.Int("depth", 32), width, fields.Int("intermediate_size", 3420), fields.Int("out_hidden_size", 3584),
            fields.Int("num_heads", 16), inChannels, fields.Int("patch_size", 14), fields.Int("spatial_merge_size", 2),
            fields.Int("temporal_patch_size", 2), fields.String("hidden_act", "silu"), fields.Int("window_size", 112),
            IntList(vision["fullatt_block_indexes"], "vision_config.fullatt_block_indexes") ?? [7, 15, 23, 31],
            fields.Int("tokens_per_second", 4));
    }

    private static void Positive(int value, string name)
    {
        if (value <= 0)
        {
            throw new FormatException($"{name} {value} must be positive.");
        }
    }

    private static int[]? IntList(JsonNode? node, string name)
    {
        if (node is null)
        {
            return null;
        }

        if (node is not JsonArray array)
        {
            throw new FormatException($"{name} must be a list of integers, not {node.ToJsonString()}.");
        }

        return array.Select(item => Integer(item, name)).ToArray();
    }

    private static int Integer(JsonNode? node, string name)
    {
        double value = Number(node, name);
        if (value != Math.Floor(value) || value < int.MinValue || value > int.MaxValue)
        {
            throw new FormatException($"{name} must be an integer, not {node!.ToJsonString()}.");
        }

        return (int)value;
    }

    private static double Number(JsonNode? node, string name)
    {
        if (node is JsonValue value && value.TryGetValue<JsonElement>(out var element) && element.ValueKind == JsonValueKind.Number)
        {
            return element.GetDouble();
        }

        if (node is JsonValue direct && direct.TryGetValue<double>(out double number))
        {
            return number;
        }

        throw new FormatException($"{name} must be a number, not {node?.ToJsonString() ?? "null"}.");
    }

    /// <summary>Reads fields from <paramref name="primary"/>, falling back to <paramref name="fallback"/> (the root).</summary>
    private sealed class Fields(JsonObject primary, JsonObject fallback, string prefix)
    {
        private JsonNode? Find(string name) => primary[name] ?? fallback[name];

        public int Int(string name, int? otherwise = null) => Find(name) is JsonNode node ? Integer(node, prefix + name)
            : otherwise ?? throw new FormatException($"config.json has no {prefix}{name}.");

        public double Double(string name, double otherwise) => Find(name) is JsonNode node ? Number(node, prefix + name) : otherwise;

        public bool Bool(string name, bool otherwise) => Find(name) switch
        {
            null => otherwise,
            JsonValue value when value.TryGetValue<bool>(out bool b) => b,
            var node => throw new FormatException($"{prefix}{name} must be true or false, not {node.ToJsonString()}."),
        };

        public string String(string name, string otherwise) => Find(name) switch
        {
            null => otherwise,
            JsonValue value when value.TryGetValue<string>(out string? s) => s,
            var node => throw new FormatException($"{prefix}{name} must be a string, not {node.ToJsonString()}."),
        };
    }

    public override string ToString() => string.Create(CultureInfo.InvariantCulture,
        $"{ModelType} (hidden {HiddenSize}, {NumHiddenLayers} layers, {NumAttentionHeads}/{NumKeyValueHeads} heads, vision {Vision.Width}x{Vision.Depth})");
}
