using System.CommandLine;
using Grid.Cli.Commands;

// `grid` is one executable for every role: training, evaluation, benchmarks, datasets, and the
// silos and clients of a cluster (README).
var root = new RootCommand("Grid: GRPO-D training of multimodal policies on an Orleans actor grid.")
{
    TrainCommand.Create(),
    SftCommand.Create(),
    EvalCommand.Create(),
    BenchCommand.Create(),
    DatasetCommand.Create(),
    SiloCommand.Create(),
    SubmitCommand.Create(),
    StatusCommand.Create(),
    ResumeCommand.Create(),
    ExperimentCommand.Create(),
    ScoreCommand.Create(),
    ExportCommand.Create(),
    TlsCommand.Create(),
};

return await CommandRunner.InvokeAsync(root, args);
