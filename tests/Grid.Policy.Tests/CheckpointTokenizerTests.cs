using System.Text.Json;
using System.Text.Json.Nodes;
using Grid.Policy.Checkpoints;
using Grid.Policy.Model;
using Grid.Policy.Tokenization;

namespace Grid.Policy.Tests;

/// <summary>Every checkpoint records its tokenizer; loading with another is refused; old checkpoints mean the char one.</summary>
public sealed class CheckpointTokenizerTests : IDisposable
{
    private readonly string _directory = Path.Combine(Path.GetTempPath(), "grid-policy-tests", Guid.NewGuid().ToString("N"));

    public void Dispose()
    {
        if (Directory.Exists(_directory))
        {
            Directory.Delete(_directory, recursive: true);
        }
    }

    [Fact]
    public void A_checkpoint_records_the_default_tokenizer_unless_told_otherwise()
    {
        using var policy = TestPolicies.Tiny();
        PolicyCheckpoint.Save(policy, policy.Config, _directory);

        var record = PolicyCheckpoint.ReadManifest(_directory).Tokenizer;

        Assert.NotNull(record);
        Assert.Equal(TokenizerRecord.Of(Tokenizer.Default), record);
    }

    [Fact]
    public void A_byte_fallback_checkpoint_loads_with_its_tokenizer_and_is_refused_with_the_default_one()
    {
        using var policy = new VisionLanguagePolicy(PolicyConfig.Tiny with { VocabSize = Tokenizer.ByteFallbackSize }, seed: 1);
        PolicyCheckpoint.Save(policy, policy.Config, _directory, Tokenizer.ByteFallback);

        var (loaded, _) = PolicyCheckpoint.Load(_directory, Tokenizer.ByteFallback);
        loaded.Dispose();
        var error = Assert.Throws<InvalidDataException>(() => PolicyCheckpoint.Load(_directory));

        Assert.Contains("grid-char-bytes-v1", error.Message);
        Assert.Contains("not grid-char-v1", error.Message);
        Assert.Contains("checkpoint.json", error.Message);
        Assert.Contains("Run with the grid-char-bytes-v1 tokenizer", error.Message);
    }

    [Fact]
    public void A_default_checkpoint_is_refused_by_a_byte_fallback_run()
    {
        using var policy = TestPolicies.Tiny();
        PolicyCheckpoint.Save(policy, policy.Config, _directory);

        var error = Assert.Throws<InvalidDataException>(() => PolicyCheckpoint.Inspect(_directory, Tokenizer.ByteFallback));

        Assert.Contains("trained with the tokenizer grid-char-v1", error.Message);
    }

    [Fact]
    public void An_old_checkpoint_without_a_tokenizer_record_loads_as_the_char_tokenizer()
    {
        using var policy = TestPolicies.Tiny();
        PolicyCheckpoint.Save(policy, policy.Config, _directory);
        string manifestPath = Path.Combine(_directory, PolicyCheckpoint.ManifestFileName);
        var manifest = JsonNode.Parse(File.ReadAllText(manifestPath))!.AsObject();
        Assert.True(manifest.Remove("Tokenizer"));
        File.WriteAllText(manifestPath, manifest.ToJsonString());

        var (loaded, config) = PolicyCheckpoint.Load(_directory);
        loaded.Dispose();

        Assert.Equal(policy.Config, config);
        Assert.Null(PolicyCheckpoint.ReadManifest(_directory).Tokenizer);
        var error = Assert.Throws<InvalidDataException>(() => PolicyCheckpoint.Load(_directory, Tokenizer.ByteFallback));
        Assert.Contains("no record: an older checkpoint", error.Message);
    }

    [Fact]
    public void A_tampered_vocabulary_hash_is_refused_as_unknown()
    {
        using var policy = TestPolicies.Tiny();
        PolicyCheckpoint.Save(policy, policy.Config, _directory);
        string manifestPath = Path.Combine(_directory, PolicyCheckpoint.ManifestFileName);
        var manifest = PolicyCheckpoint.ReadManifest(_directory);
        File.WriteAllText(manifestPath, JsonSerializer.Serialize(
            manifest with { Tokenizer = manifest.Tokenizer! with { VocabularySha256 = new string('0', 64) } }));

        var error = Assert.Throws<InvalidDataException>(() => PolicyCheckpoint.Load(_directory));

        Assert.Contains("No tokenizer this build knows", error.Message);
    }

    [Fact]
    public void Saving_with_a_tokenizer_larger_than_the_embedding_is_refused()
    {
        using var policy = TestPolicies.Tiny();

        var error = Assert.Throws<ArgumentException>(() =>
            PolicyCheckpoint.Save(policy, policy.Config, _directory, Tokenizer.ByteFallback));

        Assert.Contains($"VocabSize {Tokenizer.ByteFallbackSize}", error.Message);
    }
}
