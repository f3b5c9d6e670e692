using System.CommandLine;
using Grid.Cli.Commands;

// `grid` is one executable for every role: training, evaluation, benchmarks and datasets (DESIGN.md).
var root = new RootCommand("Grid: GRPO-D training of multimodal policies on an Orleans actor grid.")
{
    TrainCommand.Create(),
    SftCommand.Create(),
    EvalCommand.Create(),
    BenchCommand.Create(),
    DatasetCommand.Create(),
};

return await CommandRunner.InvokeAsync(root, args);
