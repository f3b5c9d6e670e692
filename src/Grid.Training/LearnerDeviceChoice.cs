using TorchSharp;
using static TorchSharp.torch;

namespace Grid.Training;

/// <summary>
/// Which device a learner trains on, and what the silo says about it. <see cref="Decide"/> is the whole rule, a pure
/// function of what the silo declares (<c>grid silo --gpu N</c>) and what the loaded libtorch sees; <see cref="Probe"/>
/// asks libtorch (torch work: call it on a torch thread).
/// </summary>
/// <param name="Device">CUDA device 0, or the CPU.</param>
/// <param name="Message">One line for the log: the device, and why.</param>
/// <param name="IsWarning">The silo offers GPUs it cannot use: log it as a warning (once per silo).</param>
public sealed record LearnerDeviceChoice(Device Device, string Message, bool IsWarning)
{
    public bool IsCuda => Device.type == DeviceType.CUDA;

    /// <param name="declaredGpus">GPUs the silo offers to learners (<c>--gpu N</c>, Grid:GpuDevices).</param>
    /// <param name="cudaAvailable">libtorch's <c>torch.cuda.is_available()</c>: a CUDA build that sees a device.</param>
    /// <param name="cudaDevices">libtorch's <c>torch.cuda.device_count()</c>.</param>
    public static LearnerDeviceChoice Decide(int declaredGpus, bool cudaAvailable, int cudaDevices)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(declaredGpus);
        if (declaredGpus == 0)
        {
            return new(CPU, "trains on the CPU: this silo declares no GPU (grid silo --gpu N offers N)", IsWarning: false);
        }

        if (!cudaAvailable || cudaDevices <= 0)
        {
            return new(CPU, $"trains on the CPU although this silo declares {Gpus(declaredGpus)} (--gpu {declaredGpus}): the loaded "
                + "libtorch has no CUDA device (a TorchSharp-cpu build, or no GPU visible to the process). Build with "
                + "-p:TorchBackend=cuda (docs/deployment.md) and check nvidia-smi / CUDA_VISIBLE_DEVICES", IsWarning: true);
        }

        string seen = cudaDevices < declaredGpus
            ? $"; the silo declares {Gpus(declaredGpus)} but libtorch sees {cudaDevices}"
            : $" of {cudaDevices} visible";
        return new(new Device(DeviceType.CUDA, 0), $"trains on CUDA device cuda:0{seen}", IsWarning: false);
    }

    /// <summary><see cref="Decide"/> with what the loaded libtorch reports. Torch work: run it on a torch thread.</summary>
    public static LearnerDeviceChoice Probe(int declaredGpus)
    {
        if (declaredGpus == 0)
        {
            return Decide(0, cudaAvailable: false, cudaDevices: 0); // no need to ask libtorch
        }

        bool available = cuda.is_available();
        return Decide(declaredGpus, available, available ? cuda.device_count() : 0);
    }

    private static string Gpus(int n) => n == 1 ? "1 GPU" : $"{n} GPUs";
}
