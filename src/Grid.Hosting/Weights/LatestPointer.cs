using System.Text.Json;
using System.Text.Json.Serialization;
using Grid.Core;

namespace Grid.Hosting.Weights;

/// <summary>The small JSON object a store keeps per run ("latest.json") naming the newest published object.</summary>
internal sealed record LatestPointer(
    [property: JsonPropertyName("runId")] string RunId,
    [property: JsonPropertyName("version")] long Version,
    [property: JsonPropertyName("uri")] string Uri,
    [property: JsonPropertyName("sha256")] string Sha256)
{
    public const string FileName = "latest.json";

    public WeightReference ToReference() => new(new Uri(Uri), Version, Sha256);

    public static LatestPointer From(string runId, WeightReference reference) =>
        new(runId, reference.Version, reference.Uri.AbsoluteUri, reference.Sha256);

    public byte[] ToJson() => JsonSerializer.SerializeToUtf8Bytes(this);

    public static LatestPointer Parse(ReadOnlySpan<byte> json, string where) =>
        JsonSerializer.Deserialize<LatestPointer>(json)
        ?? throw new InvalidDataException($"Latest pointer {where} is empty JSON; delete it and publish again.");
}
