using Grid.Core;

namespace Grid.Contracts;

/// <summary>
/// How grain calls and grain state carry <see cref="WeightReference"/>, which lives in Grid.Core, free of Orleans.
/// The field ids are those the record carried when it was itself marked for serialization, so stored states still read.
/// </summary>
[GenerateSerializer]
[Alias("grid.WeightReference")]
[Immutable]
public readonly record struct WeightReferenceSurrogate(
    [property: Id(0)] Uri Uri,
    [property: Id(1)] long Version,
    [property: Id(2)] string Sha256);

[RegisterConverter]
public sealed class WeightReferenceConverter : IConverter<WeightReference, WeightReferenceSurrogate>
{
    public WeightReference ConvertFromSurrogate(in WeightReferenceSurrogate surrogate) =>
        new(surrogate.Uri, surrogate.Version, surrogate.Sha256);

    public WeightReferenceSurrogate ConvertToSurrogate(in WeightReference value) => new(value.Uri, value.Version, value.Sha256);
}
