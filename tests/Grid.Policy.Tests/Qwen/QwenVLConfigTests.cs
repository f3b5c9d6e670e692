using System.Text.Json.Nodes;
using Grid.Policy.Qwen;

namespace Grid.Policy.Tests.Qwen;

public sealed class QwenVLConfigTests
{
    private static JsonObject TinyConfig(string family) =>
        JsonNode.Parse(File.ReadAllText(Path.Combine(QwenReference.CheckpointFolder(family), "config.json")))!.AsObject();

    [Fact]
    public void The_hub_flat_layout_of_qwen2_vl_is_read_with_its_vision_fields()
    {
        var config = QwenVLConfig.Parse(TinyConfig(QwenReference.Qwen2VL).ToJsonString());

        Assert.Equal(QwenVLFamily.Qwen2VL, config.Family);
        Assert.Equal((151680, 32, 64, 2, 2, 1, 16), (config.VocabSize, config.HiddenSize, config.IntermediateSize,
            config.NumHiddenLayers, config.NumAttentionHeads, config.NumKeyValueHeads, config.HeadDim));
        Assert.Equal([2, 3, 3], config.MropeSection);
        Assert.Equal(1_000_000.0, config.RopeTheta);
        Assert.True(config.TieWordEmbeddings);
        Assert.Equal("bfloat16", config.TorchDtype);
        Assert.Equal([151645], config.EosTokenIds);
        Assert.Equal((151652, 151653, 151655, 151656),
            (config.VisionStartTokenId, config.VisionEndTokenId, config.ImageTokenId, config.VideoTokenId));
        var v = config.Vision;
        Assert.Equal((2, 32, 128, 32, 2, 3, 14, 2, 2, "quick_gelu", 0), (v.Depth, v.Width, v.MlpHiddenSize, v.OutHiddenSize,
            v.NumHeads, v.InChannels, v.PatchSize, v.SpatialMergeSize, v.TemporalPatchSize, v.HiddenAct, v.WindowSize));
        Assert.Empty(v.FullAttentionBlocks);
    }

    [Fact]
    public void The_hub_flat_layout_of_qwen2_5_vl_is_read_with_windows_and_full_attention_blocks()
    {
        var config = QwenVLConfig.Parse(TinyConfig(QwenReference.Qwen25VL).ToJsonString());

        Assert.Equal(QwenVLFamily.Qwen25VL, config.Family);
        Assert.False(config.TieWordEmbeddings);
        var v = config.Vision;
        Assert.Equal((4, 32, 64, 32, 2, "silu", 56, 2, 2), (v.Depth, v.Width, v.MlpHiddenSize, v.OutHiddenSize, v.NumHeads,
            v.HiddenAct, v.WindowSize, v.TokensPerSecond, v.WindowSideInMergedTokens));
        Assert.Equal([1, 3], v.FullAttentionBlocks);
    }

    [Theory]
    [InlineData(QwenReference.Qwen2VL)]
    [InlineData(QwenReference.Qwen25VL)]
    public void The_nested_text_config_layout_with_rope_parameters_reads_the_same_model(string family)
    {
        var flat = TinyConfig(family);
        var nested = new JsonObject
        {
            ["model_type"] = flat["model_type"]!.DeepClone(),
            ["vision_config"] = flat["vision_config"]!.DeepClone(),
            ["image_token_id"] = flat["image_token_id"]!.DeepClone(),
            ["video_token_id"] = flat["video_token_id"]!.DeepClone(),
            ["vision_start_token_id"] = flat["vision_start_token_id"]!.DeepClone(),
            ["vision_end_token_id"] = flat["vision_end_token_id"]!.DeepClone(),
            ["tie_word_embeddings"] = flat["tie_word_embeddings"]!.DeepClone(),
            ["dtype"] = "bfloat16",
        };
        var text = new JsonObject();
        foreach (string field in new[] { "vocab_size", "hidden_size", "intermediate_size", "num_hidden_layers",
                     "num_attention_heads", "num_key_value_heads", "rms_norm_eps", "max_position_embeddings", "eos_token_id", "hidden_act" })
        {
            text[field] = flat[field]!.DeepClone();
        }

        text["rope_parameters"] = new JsonObject
        {
            ["rope_type"] = "default",
            ["rope_theta"] = 1_000_000.0,
            ["mrope_section"] = new JsonArray(2, 3, 3),
        };
        nested["text_config"] = text;

        var expected = QwenVLConfig.Parse(flat.ToJsonString());
        var actual = QwenVLConfig.Parse(nested.ToJsonString());

        Assert.Equal(expected.ToString(), actual.ToString());
        Assert.Equal((expected.VocabSize, expected.IntermediateSize, expected.NumKeyValueHeads, expected.RopeTheta,
            expected.TieWordEmbeddings, expected.TorchDtype, expected.RmsNormEps),
            (actual.VocabSize, actual.IntermediateSize, actual.NumKeyValueHeads, actual.RopeTheta, actual.TieWordEmbeddings,
            actual.TorchDtype, actual.RmsNormEps));
        Assert.Equal(expected.MropeSection, actual.MropeSection);
        Assert.Equal(expected.Vision.FullAttentionBlocks, actual.Vision.FullAttentionBlocks);
        int[] same = [];
        Assert.Equal(expected.Vision with { FullAttentionBlocks = same }, actual.Vision with { FullAttentionBlocks = same });
    }

    [Fact]
    public void An_unknown_model_type_is_refused_naming_the_supported_ones()
    {
        var config = TinyConfig(QwenReference.Qwen2VL);
        config["model_type"] = "llava";

        var e = Assert.Throws<FormatException>(() => QwenVLConfig.Parse(config.ToJsonString()));

        Assert.Contains("'llava'", e.Message);
        Assert.Contains("qwen2_vl", e.Message);
        Assert.Contains("qwen2_5_vl", e.Message);
    }

    [Fact]
    public void An_mrope_section_not_summing_to_half_the_head_dimension_is_refused()
    {
        var config = TinyConfig(QwenReference.Qwen2VL);
        config["rope_scaling"]!["mrope_section"] = new JsonArray(2, 3, 4);

        var e = Assert.Throws<FormatException>(() => QwenVLConfig.Parse(config.ToJsonString()));

        Assert.Contains("mrope_section [2, 3, 4]", e.Message);
        Assert.Contains("head_dim / 2 = 8", e.Message);
    }

    [Fact]
    public void Attention_heads_that_do_not_divide_the_hidden_size_are_refused()
    {
        var config = TinyConfig(QwenReference.Qwen2VL);
        config["num_attention_heads"] = 3;

        var e = Assert.Throws<FormatException>(() => QwenVLConfig.Parse(config.ToJsonString()));

        Assert.Contains("hidden_size 32 is not divisible by num_attention_heads 3", e.Message);
    }

    [Fact]
    public void Key_value_heads_that_do_not_divide_the_heads_are_refused()
    {
        var config = TinyConfig(QwenReference.Qwen2VL);
        config["num_key_value_heads"] = 3;

        var e = Assert.Throws<FormatException>(() => QwenVLConfig.Parse(config.ToJsonString()));

        Assert.Contains("num_key_value_heads 3", e.Message);
    }

    [Fact]
    public void A_window_size_that_is_not_whole_merged_patches_is_refused()
    {
        var config = TinyConfig(QwenReference.Qwen25VL);
        config["vision_config"]!["window_size"] = 50;

        var e = Assert.Throws<FormatException>(() => QwenVLConfig.Parse(config.ToJsonString()));

        Assert.Contains("vision_config.window_size 50", e.Message);
    }

    [Fact]
    public void A_missing_required_field_is_named()
    {
        var config = TinyConfig(QwenReference.Qwen2VL);
        config.Remove("hidden_size");

        var e = Assert.Throws<FormatException>(() => QwenVLConfig.Parse(config.ToJsonString()));

        Assert.Contains("no hidden_size", e.Message);
    }

    [Fact]
    public void A_merger_output_other_than_the_decoder_width_is_refused()
    {
        var config = TinyConfig(QwenReference.Qwen2VL);
        config["vision_config"]!["hidden_size"] = 48;

        var e = Assert.Throws<FormatException>(() => QwenVLConfig.Parse(config.ToJsonString()));

        Assert.Contains("output width 48", e.Message);
    }
}
