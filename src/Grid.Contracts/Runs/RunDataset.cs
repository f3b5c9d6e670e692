using Grid.Core;

namespace Grid.Contracts.Runs;

/// <summary>
/// One dataset file published through the cluster's store by <c>grid submit</c>: the JSONL and every image it uses as
/// one archive (<c>DatasetPack</c>), named by the archive's sha256 (<see cref="WeightReference.Sha256"/>), which every
/// silo checks after download. <paramref name="FileName"/> is the JSONL's own name (an R1-V record's default id comes
/// from it); <paramref name="Bytes"/> the archive's size.
/// </summary>
[GenerateSerializer]
[Alias("grid.PublishedDataset")]
[Immutable]
public sealed record PublishedDataset(
    [property: Id(0)] WeightReference Archive,
    [property: Id(1)] string FileName,
    [property: Id(2)] long Bytes)
{
    /// <summary>The archive's sha256: the dataset's name on the cluster and its silo cache folder.</summary>
    public string Sha256 => Archive.Sha256;
}

/// <summary>
/// A run's own data on a cluster: the published train file, the eval file (null: the train file is split by the run's
/// <c>data.eval_fraction</c> and <c>data.split_seed</c>), and what the controller needs to address a prompt group's
/// example as (train sha256, index) without reading the data: the train task's name and its example count after the
/// split. Null on a run over the built-in tasks, and on the embedded grid, whose grains read the files where they are.
/// </summary>
[GenerateSerializer]
[Alias("grid.RunDataset")]
[Immutable]
public sealed record RunDataset(
    [property: Id(0)] PublishedDataset Train,
    [property: Id(1)] PublishedDataset? Eval,
    [property: Id(2)] string TrainTask,
    [property: Id(3)] int TrainExamples);
