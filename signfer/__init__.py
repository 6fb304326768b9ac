"""signfer: facial expression recognition for sign-language video.

Stages (one subpackage each): ``faces`` (detect, crop, normalise, align),
``data`` (FePh, AffectNet, folders, grouped folds), ``models`` (timm backbones and
pretrained weights), ``training`` (published recipes), ``evaluation`` (metrics and
paper-shaped tables), ``inference`` (Recognizer, video annotation, ONNX), ``explain``
(Grad-CAM, occlusion).
"""

__version__ = "0.1.0"


def __getattr__(name):  # lazy: `import signfer` stays cheap, `signfer.Recognizer` works
    if name == "Recognizer":
        from signfer.inference.recognizer import Recognizer

        return Recognizer
    if name == "Annotator":
        from signfer.annotate.annotator import Annotator

        return Annotator
    raise AttributeError(name)


__all__ = ["Annotator", "Recognizer", "__version__"]
